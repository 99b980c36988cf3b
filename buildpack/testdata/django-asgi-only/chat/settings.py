from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ASGI_APPLICATION = "chat.asgi.application"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
}
STATIC_URL = "static/"
STATIC_ROOT = "staticfiles"
