import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

DEBUG = os.environ.get("DJANGO_DEBUG") == "1"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("POSTGRES_DB", "proj"),
    }
}

CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

STATIC_URL = "static/"
if not DEBUG:
    STATIC_ROOT = BASE_DIR / "static_root"
