"""Celery application: `celery -A exampleproject worker`."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")

app = Celery("exampleproject")
# All Celery options come from Django settings prefixed with CELERY_.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
