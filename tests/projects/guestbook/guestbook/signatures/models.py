from django.db import models


class Signature(models.Model):
    name = models.CharField(max_length=100)
    message = models.TextField(max_length=2000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name}: {self.message[:40]}"


class Tick(models.Model):
    """One run of the periodic task."""

    ran_at = models.DateTimeField(auto_now_add=True)
    hostname = models.CharField(max_length=255)

    def __str__(self):
        return f"{self.ran_at:%H:%M:%S} on {self.hostname}"
