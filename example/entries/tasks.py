from celery import shared_task

from .models import Entry


@shared_task
def record(text):
    """Registered as entries.tasks.record; proves the worker reaches the DB."""
    # Stay within the column size: "task: " plus a 200 character text.
    Entry.objects.create(text=f"task: {text}"[:200], source=Entry.Source.TASK)
