SECRET_KEY = "x"
INSTALLED_APPS = ["daphne", "channels"]
ASGI_APPLICATION = "chat.asgi.application"
