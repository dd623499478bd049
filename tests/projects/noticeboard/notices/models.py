from django.db import models
from django.urls import reverse


class Notice(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    attachment = models.FileField(upload_to="attachments/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Filled in by the background job (notices.jobs.publish_notice).
    published_at = models.DateTimeField(null=True, blank=True)
    host = models.CharField(
        max_length=100,
        blank=True,
        help_text="Host name of the worker that published the notice.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("detail", kwargs={"pk": self.pk})

    @property
    def is_published(self):
        return self.published_at is not None
