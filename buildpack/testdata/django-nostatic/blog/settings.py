import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
INSTALLED_APPS = ["django.contrib.staticfiles", "blog"]
ROOT_URLCONF = "blog.urls"
DATABASES = {}
STATIC_URL = "/static/"
