import os

import dj_database_url

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEBUG = os.environ.get("DEBUG") == "1"

DATABASES = {}
DATABASES["default"] = dj_database_url.config(conn_max_age=600)

STATIC_URL = "https://cdn.example.com/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "collected", "static")
STORAGES = {
    "staticfiles": {"BACKEND": "storages.backends.s3.S3Storage"},
}
