from django.apps import AppConfig


class SignaturesConfig(AppConfig):
    name = "guestbook.signatures"
    verbose_name = "Signatures"
