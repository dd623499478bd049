import socket

from celery import shared_task

from .models import Tick


@shared_task()
def record_tick():
    """A periodic task (see CELERY_BEAT_SCHEDULE): one row per run."""
    Tick.objects.create(hostname=socket.gethostname())
