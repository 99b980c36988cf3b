SECRET_KEY = "x"
INSTALLED_APPS = ["django_celery_beat", "shop"]
CELERY_BROKER_URL = "redis://localhost:6379/0"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
