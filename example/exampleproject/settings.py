"""Settings for the example project.

Everything that depends on the environment comes from a KEY=VALUE file
written by the deployment (path in $WEBSTACK_CONFIG, default
/etc/webstack/app.env). Variables in os.environ override the file, so the
project also runs from environment variables alone.
"""
import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

CONFIG_FILE = os.environ.get("WEBSTACK_CONFIG", "/etc/webstack/app.env")


def read_config(path):
    """Parse KEY=VALUE lines; '#' comments and blank lines are skipped.

    The value is everything after the first '=' (only the line break is
    removed): no quote handling, no interpolation. A missing file yields {},
    and so does one this user may not read (a build: its settings come in
    the environment).
    """
    values = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\r\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip()] = value
    except (FileNotFoundError, PermissionError):
        pass
    return values


_FILE_CONFIG = read_config(CONFIG_FILE)


def env(key, default=None, required=False):
    """Return a setting: os.environ wins over the file; empty means unset."""
    value = os.environ.get(key) or _FILE_CONFIG.get(key) or default
    if required and not value:
        raise ImproperlyConfigured(
            f"{key} is not set (config file {CONFIG_FILE} or environment)"
        )
    return value


def env_bool(key, default="0"):
    value = env(key, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{key} must be 0 or 1, got {value!r}")


def env_list(key, default=""):
    return [item.strip() for item in env(key, default).split(",") if item.strip()]


def database_from_url(url):
    """postgresql://user:pass@host:5432/name[?opt=val] or sqlite:////abs/path."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///abs/path and sqlite:////abs/path both mean /abs/path.
        path = "/" + (parts.netloc + parts.path).lstrip("/")
        if path == "/":
            raise ImproperlyConfigured("DATABASE_URL: sqlite URL needs a path")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # Fail fast when the server is unreachable (also bounds /healthz).
            "OPTIONS": {"connect_timeout": 2, **dict(parse_qsl(parts.query))},
        }
    raise ImproperlyConfigured(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")


SECRET_KEY = env("SECRET_KEY", required=True)
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# TLS ends at the reverse proxy, which tells us the original scheme. The Host
# header is used as sent by the proxy (X-Forwarded-Host is not trusted).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False
# HTTPS only, where the deployment says TLS is on (off by default, for runs
# over plain HTTP on a developer's machine).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE")
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS")

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "entries",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exampleproject.urls"
WSGI_APPLICATION = "exampleproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env("DATABASE_URL", required=True))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env("CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery reads these through app.config_from_object(..., namespace="CELERY").
# Unset broker URL means Celery's own default (amqp://localhost).
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ACKS_LATE = env_bool("CELERY_TASK_ACKS_LATE", "1")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Optional, for local runs/tests without a worker: run tasks inline.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_EAGER_PROPAGATES = CELERY_TASK_ALWAYS_EAGER

STATIC_URL = env("STATIC_URL", "/static/")
STATIC_ROOT = env("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
MEDIA_URL = env("MEDIA_URL", "/media/")
MEDIA_ROOT = env("MEDIA_ROOT", str(BASE_DIR / "media"))


def read_release_id(path):
    """Release id deployed by the formula; read once, at import time."""
    try:
        return Path(path).read_text(encoding="utf-8").strip() or "unknown"
    except (OSError, TypeError, ValueError):  # unset, missing, unreadable
        return "unknown"


RELEASE_FILE = env("RELEASE_FILE")
RELEASE_ID = read_release_id(RELEASE_FILE)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    # Replace Django's default handlers (console only in DEBUG, mail_admins).
    "loggers": {"django": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
}
