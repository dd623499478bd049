import socket
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse

from .jobs import fail_on_purpose, publish_notice
from .models import Notice

# The manifest storage needs collectstatic to have run; tests don't.
TEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@override_settings(STORAGES=TEST_STORAGES)
class HomePageTests(TestCase):
    def test_lists_notices(self):
        Notice.objects.create(title="Lost cat", body="Grey, answers to Tom.")
        response = self.client.get(reverse("home"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<h1>Notices</h1>", html=False)
        self.assertContains(response, "Lost cat")
        self.assertContains(response, '<p class="served-by">', html=False)

    def test_is_public_and_cacheable(self):
        response = self.client.get(reverse("home"))
        self.assertNotIn("Set-Cookie", response.headers)
        self.assertEqual(len(response.cookies), 0)
        self.assertIn("public", response["Cache-Control"])
        self.assertIn("max-age=60", response["Cache-Control"])


@override_settings(STORAGES=TEST_STORAGES)
class NewNoticeTests(TestCase):
    def test_post_saves_and_enqueues(self):
        upload = SimpleUploadedFile("flyer.txt", b"hello", content_type="text/plain")
        with mock.patch("notices.views.django_rq.enqueue") as enqueue:
            response = self.client.post(
                reverse("new"),
                {"title": "Bake sale", "body": "Saturday at noon.", "attachment": upload},
            )
        notice = Notice.objects.get()
        self.assertRedirects(response, reverse("detail", kwargs={"pk": notice.pk}))
        self.assertTrue(notice.attachment.name.startswith("attachments/"))
        enqueue.assert_called_once_with(publish_notice, notice.pk)

    def test_invalid_form_is_shown_again(self):
        with mock.patch("notices.views.django_rq.enqueue") as enqueue:
            response = self.client.post(reverse("new"), {"title": ""})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Notice.objects.exists())
        enqueue.assert_not_called()


class JobTests(TestCase):
    def test_publish_notice(self):
        notice = Notice.objects.create(title="Meeting", body="Room 4.")
        publish_notice(notice.pk)
        notice.refresh_from_db()
        self.assertIsNotNone(notice.published_at)
        self.assertEqual(notice.host, socket.gethostname())

    def test_fail_on_purpose(self):
        with self.assertRaisesMessage(RuntimeError, "notice 7 cannot be published"):
            fail_on_purpose(7)
