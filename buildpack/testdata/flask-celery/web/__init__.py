from celery import Celery
from flask import Flask

celery = Celery(__name__, broker="redis://localhost:6379/0")
celery.conf.beat_schedule = {
    "nightly": {"task": "web.tasks.nightly", "schedule": 86400.0},
}


def create_app():
    app = Flask(__name__)
    celery.conf.update(app.config)
    return app
