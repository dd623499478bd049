import socket

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from exampleproject.celery import app as celery_app

from .forms import EntryForm, UploadForm
from .models import Entry, Upload
from .tasks import record

CHECK_TIMEOUT = 2  # seconds, per /healthz check


def _see_other(name):
    """Redirect after a successful POST (303: the client follows with GET)."""
    response = redirect(name)
    response.status_code = 303
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def index(request):
    form = EntryForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        entry = form.save(commit=False)
        entry.source = Entry.Source.WEB
        entry.save()
        # The worker (or eager mode) adds a second, source="task" row.
        record.delay(entry.text)
        return _see_other("index")
    status = 400 if form.errors else 200
    return render(
        request,
        "entries/index.html",
        {"form": form, "entries": Entry.objects.all()},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def upload(request):
    bound = request.method == "POST"
    form = UploadForm(request.POST if bound else None, request.FILES if bound else None)
    if bound and form.is_valid():
        form.save()  # stored under MEDIA_ROOT/uploads/
        return _see_other("uploads")
    status = 400 if form.errors else 200
    return render(request, "entries/upload.html", {"form": form}, status=status)


@require_safe
def uploads(request):
    return render(request, "entries/uploads.html", {"uploads": Upload.objects.all()})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache():
    cache.set("healthz", "1", timeout=10)
    if cache.get("healthz") != "1":
        raise RuntimeError("value read back differs")


def _check_broker():
    # Bounded connect/read timeouts (redis transport); one immediate retry,
    # only while still inside the CHECK_TIMEOUT budget.
    options = {"socket_connect_timeout": CHECK_TIMEOUT, "socket_timeout": CHECK_TIMEOUT}
    with celery_app.connection_for_write(
        connect_timeout=CHECK_TIMEOUT, transport_options=options
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)


CHECKS = [("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)]


@never_cache
@require_safe
def healthz(request):
    """200 "ok" if database, cache and broker work, else 503 naming failures."""
    failures = []
    for name, check in CHECKS:
        try:
            check()
        except Exception as exc:  # report any failure, never raise
            message = " ".join(str(exc).split())[:200] or type(exc).__name__
            failures.append(f"fail: {name}: {message}")
    if failures:
        return HttpResponse("\n".join(failures) + "\n", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_safe
def version(request):
    """The release id; X-Served-By names the host that answered (behind a load balancer)."""
    response = HttpResponse(f"{settings.RELEASE_ID}\n", content_type="text/plain")
    response["X-Served-By"] = socket.gethostname()
    return response
