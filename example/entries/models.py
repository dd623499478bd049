from django.db import models


class Entry(models.Model):
    class Source(models.TextChoices):
        WEB = "web", "web"
        TASK = "task", "task"

    text = models.CharField(max_length=200)
    source = models.CharField(max_length=20, choices=Source.choices)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "entries"

    def __str__(self):
        return f"{self.source}: {self.text}"


class Upload(models.Model):
    file = models.FileField(upload_to="uploads/")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.file.name
