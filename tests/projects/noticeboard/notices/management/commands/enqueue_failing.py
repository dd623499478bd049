import django_rq
from django.core.management.base import BaseCommand

from notices.jobs import fail_on_purpose


class Command(BaseCommand):
    help = "Enqueue a job that fails, to check the failed job registry."

    def handle(self, *args, **options):
        job = django_rq.get_queue("default").enqueue(fail_on_purpose, 0)
        self.stdout.write(job.id)
