import time

from celery import shared_task

from .models import Entry


@shared_task
def record(text):
    """Registered as entries.tasks.record; proves the worker reaches the DB."""
    # Stay within the column size: "task: " plus a 200 character text.
    Entry.objects.create(text=f"task: {text}"[:200], source=Entry.Source.TASK)


@shared_task
def record_once(key, seconds=0):
    """Registered as entries.tasks.record_once: a slow task whose effect happens once.

    Each run (attempt) leaves an "attempt: <key>" row, works for ``seconds``, then
    records "task: <key>" unless it is there already. With acks_late and
    reject_on_worker_lost, a run whose worker process was killed is delivered again:
    two attempts, one "task:" row.
    """
    Entry.objects.create(text=f"attempt: {key}"[:200], source=Entry.Source.TASK)
    time.sleep(seconds)
    Entry.objects.get_or_create(text=f"task: {key}"[:200], defaults={"source": Entry.Source.TASK})
