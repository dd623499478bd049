import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, SimpleTestCase, TestCase, override_settings
from exampleproject.celery import app as celery_app
from exampleproject.settings import database_from_url, read_config

from .models import Entry, Upload


@contextmanager
def celery_conf(broker_url="memory://", **values):
    """Temporarily change the Celery config, whatever the settings say.

    CELERY_BROKER_URL in os.environ takes precedence over the broker_url
    option inside Celery, so it is hidden as well.
    """
    conf = celery_app.conf
    values["broker_url"] = broker_url
    saved = {key: conf[key] for key in values}
    with mock.patch.dict(os.environ):
        os.environ.pop("CELERY_BROKER_URL", None)
        conf.update(values)
        try:
            yield
        finally:
            conf.update(saved)


class EntryViewTests(TestCase):
    def setUp(self):
        self.enterContext(celery_conf(task_always_eager=True, task_eager_propagates=True))

    def test_index_lists_entries_newest_first(self):
        Entry.objects.create(text="older", source="web")
        Entry.objects.create(text="newer", source="task")
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        body = response.content.decode()
        self.assertLess(body.index("newer"), body.index("older"))
        self.assertContains(response, "/static/entries/site.css")

    def test_post_adds_web_entry_and_task_entry(self):
        # Enforce CSRF like a real browser: token from the page and cookie.
        client = Client(enforce_csrf_checks=True)
        page = client.get("/")
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()
        ).group(1)
        self.assertIn("csrftoken", page.cookies)

        response = client.post("/", {"text": "hello", "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(response["Location"], "/")
        self.assertEqual(
            sorted(Entry.objects.values_list("source", "text")),
            [("task", "task: hello"), ("web", "hello")],
        )
        self.assertContains(client.get("/"), "task: hello")

    def test_post_without_csrf_token_is_rejected(self):
        response = Client(enforce_csrf_checks=True).post("/", {"text": "x"})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Entry.objects.exists())

    def test_post_invalid_form(self):
        response = self.client.post("/", {"text": ""})
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Entry.objects.exists())


class UploadViewTests(TestCase):
    def setUp(self):
        media = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, media)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        self.media = Path(media)

    def test_upload_stores_file_and_lists_it(self):
        self.assertEqual(self.client.get("/upload/").status_code, 200)
        data = SimpleUploadedFile("hello.txt", b"hello world\n", "text/plain")
        response = self.client.post("/upload/", {"file": data})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(response["Location"], "/uploads/")

        upload = Upload.objects.get()
        self.assertEqual(upload.file.name, "uploads/hello.txt")
        self.assertEqual((self.media / "uploads/hello.txt").read_bytes(), b"hello world\n")
        self.assertContains(self.client.get("/uploads/"), 'href="/media/uploads/hello.txt"')

    def test_upload_without_file(self):
        self.assertEqual(self.client.post("/upload/", {}).status_code, 400)
        self.assertFalse(Upload.objects.exists())


class OperationalViewTests(TestCase):
    def test_healthz_ok(self):
        with celery_conf("memory://"):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/plain")
        self.assertEqual(response.content, b"ok")

    def test_healthz_names_failed_part(self):
        # Nothing listens on port 1: the broker check must fail quickly.
        with celery_conf("redis://127.0.0.1:1/0"):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 503)
        body = response.content.decode()
        self.assertTrue(body.startswith("fail: broker: "), body)
        self.assertNotIn("database", body)

    @override_settings(RELEASE_ID="20250101-abc123")
    def test_version(self):
        response = self.client.get("/version")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/plain")
        self.assertEqual(response.content, b"20250101-abc123\n")


class SettingsHelperTests(SimpleTestCase):
    def test_read_config(self):
        with tempfile.NamedTemporaryFile("w", suffix=".env") as fh:
            fh.write('# comment\n\nA=1\nB=x=y # not a comment\nC="quoted"\nD=\n')
            fh.flush()
            self.assertEqual(
                read_config(fh.name),
                {"A": "1", "B": "x=y # not a comment", "C": '"quoted"', "D": ""},
            )
        self.assertEqual(read_config("/nonexistent/app.env"), {})

    def test_database_from_url(self):
        db = database_from_url("postgresql://app:p%40ss%2Fw%3Ard@db.local:5433/appdb")
        self.assertEqual(
            (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]),
            ("django.db.backends.postgresql", "appdb", "app", "p@ss/w:rd", "db.local", "5433"),
        )
        self.assertEqual(database_from_url("sqlite:////tmp/x.sqlite3")["NAME"], "/tmp/x.sqlite3")
        self.assertEqual(database_from_url("sqlite:///tmp/x.sqlite3")["NAME"], "/tmp/x.sqlite3")
