"""Background jobs, run by an RQ worker (``python manage.py rqworker default``)."""

import logging
import socket

from django.utils import timezone

from .models import Notice

logger = logging.getLogger(__name__)


def publish_notice(notice_id):
    notice = Notice.objects.get(pk=notice_id)
    notice.published_at = timezone.now()
    notice.host = socket.gethostname()
    notice.save(update_fields=["published_at", "host"])
    logger.info("Published notice %s on %s", notice_id, notice.host)
    return f"notice {notice_id} published on {notice.host}"


def fail_on_purpose(notice_id):
    """A job that always fails, so that it ends up in the failed job registry."""
    raise RuntimeError(f"notice {notice_id} cannot be published")
