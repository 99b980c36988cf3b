import os

import rq
from flask import Flask
from redis import Redis

app = Flask(__name__)
app.redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://"))
app.task_queue = rq.Queue("mail-tasks", connection=app.redis)
