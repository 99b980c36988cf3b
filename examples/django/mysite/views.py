"""Views that let corral's edge-proxy tests see what reached the app."""
import hashlib
import logging
import os
import time

from django.http import (
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

log = logging.getLogger(__name__)

MAX_SLOW_MS = 120_000
STREAM_EVENTS = 5
STREAM_INTERVAL = 0.2


def index(request):
    return render(request, "index.html", {"instance": os.environ.get("PS", "")})


def whoami(request):
    meta = request.META
    return JsonResponse(
        {
            "remote_addr": meta.get("REMOTE_ADDR"),
            "x_forwarded_for": meta.get("HTTP_X_FORWARDED_FOR"),
            "x_forwarded_proto": meta.get("HTTP_X_FORWARDED_PROTO"),
            "x_forwarded_host": meta.get("HTTP_X_FORWARDED_HOST"),
            "x_request_id": meta.get("HTTP_X_REQUEST_ID"),
            "scheme": request.scheme,
            "host": request.get_host(),
            "is_secure": request.is_secure(),
            "method": request.method,
            "path": request.get_full_path(),
            "port": os.environ.get("PORT"),
            "ps": os.environ.get("PS"),
            "pid": os.getpid(),
        }
    )


@csrf_exempt
@require_POST
def upload(request):
    # Read the raw body in chunks rather than request.body, so a large upload
    # is counted without being held in memory. Without a Content-Length
    # (a chunked request), Django's own stream is empty: read the server's.
    if request.META.get("CONTENT_LENGTH"):
        stream = request
    else:
        stream = request.META["wsgi.input"]
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        digest.update(chunk)
    return JsonResponse(
        {
            "bytes": size,
            "sha256": digest.hexdigest(),
            "content_length": request.META.get("CONTENT_LENGTH") or None,
            "ps": os.environ.get("PS"),
        }
    )


@csrf_exempt
@require_POST
def body(request):
    # request.body holds the whole body in memory: Django refuses one larger
    # than DATA_UPLOAD_MAX_MEMORY_SIZE with a 400, before reading any of it.
    return JsonResponse({"bytes": len(request.body), "ps": os.environ.get("PS")})


def slow(request):
    try:
        ms = int(request.GET.get("ms", "1000"))
    except ValueError:
        return HttpResponseBadRequest("ms must be an integer\n")
    if not 0 <= ms <= MAX_SLOW_MS:
        return HttpResponseBadRequest(f"ms must be between 0 and {MAX_SLOW_MS}\n")
    log.info("sleeping %d ms", ms)
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms, "ps": os.environ.get("PS"), "port": os.environ.get("PORT")})


def stream(request):
    def events():
        for i in range(1, STREAM_EVENTS + 1):
            if i > 1:
                time.sleep(STREAM_INTERVAL)
            yield f"id: {i}\ndata: event {i} at {time.time():.3f}\n\n"

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def health(request):
    return HttpResponse("ok", content_type="text/plain")
