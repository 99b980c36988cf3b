"""A small Flask app with no Procfile: corral detects it and runs it under
gunicorn (gunicorn app:app), behind its edge."""
import os

from flask import Flask, jsonify, render_template_string, request

app = Flask(__name__)

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>corral + Flask</title>
<link rel="stylesheet" href="{{ url_for('static', filename='site.css') }}"></head>
<body><h1>Flask, run by corral</h1>
<p>Served by {{ ps }} (PORT {{ port }}), with no Procfile.</p></body>
</html>
"""


@app.get("/")
def index():
    return render_template_string(PAGE, ps=os.environ.get("PS", "?"), port=os.environ.get("PORT", "?"))


@app.get("/whoami")
def whoami():
    return jsonify(
        ps=os.environ.get("PS"),
        port=os.environ.get("PORT"),
        forwarded_for=request.headers.get("X-Forwarded-For"),
        forwarded_proto=request.headers.get("X-Forwarded-Proto"),
    )


@app.get("/health")
def health():
    return "ok\n"
