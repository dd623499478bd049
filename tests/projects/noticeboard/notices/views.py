import socket

import django_rq
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control, never_cache

from .forms import NoticeForm
from .jobs import publish_notice
from .models import Notice


@cache_control(public=True, max_age=60)
def home(request):
    # Public page: no form and no session access here, so an anonymous
    # visitor gets no cookie and the page can be cached by a proxy.
    return render(
        request,
        "notices/home.html",
        {"notices": Notice.objects.all(), "served_by": socket.gethostname()},
    )


def new(request):
    if request.method == "POST":
        form = NoticeForm(request.POST, request.FILES)
        if form.is_valid():
            notice = form.save()
            django_rq.enqueue(publish_notice, notice.pk)
            return redirect(notice)
    else:
        form = NoticeForm()
    return render(request, "notices/new.html", {"form": form})


@never_cache
def detail(request, pk):
    notice = get_object_or_404(Notice, pk=pk)
    return render(request, "notices/detail.html", {"notice": notice})


def visits(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return render(request, "notices/visits.html", {"visits": request.session["visits"]})


def cache_hits(request):
    cache.add("hits", 0)
    hits = cache.incr("hits")
    return HttpResponse(f"hits={hits}", content_type="text/plain")


def health(request):
    connection.ensure_connection()
    return HttpResponse("ok", content_type="text/plain")
