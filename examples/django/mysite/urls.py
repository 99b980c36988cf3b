from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("whoami", views.whoami, name="whoami"),
    path("upload", views.upload, name="upload"),
    path("body", views.body, name="body"),
    path("slow", views.slow, name="slow"),
    path("stream", views.stream, name="stream"),
    path("health", views.health, name="health"),
]
