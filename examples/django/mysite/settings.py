"""Settings for the gonicorn example Django project.

Written for Django 3.2 (Debian's python3-django) through 5.x. Production-like
on purpose (DEBUG off) so that the server, not Django's debug pages, is what
the end-to-end tests exercise.

Environment:
    DJANGO_DB          path of the SQLite database
                       (default /tmp/gonicorn-example-django.sqlite3)
    DJANGO_SECRET_KEY  secret key (default: a fixed key fit only for development)
    DJANGO_DEBUG       1 turns DEBUG on (gonicorn --reload then serves the
                       static files through Django's finders, as runserver)
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY",
    "dev-only-insecure-gonicorn-example-key-change-me-0123456789",
)

DEBUG = os.environ.get("DJANGO_DEBUG") == "1"

ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mysite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", "/tmp/gonicorn-example-django.sqlite3"),
    }
}

AUTH_PASSWORD_VALIDATORS = []  # the example's admin password is "admin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# With DEBUG off Django logs nothing to the console by default; send
# request errors (tracebacks of 500s) to stderr, which gonicorn collects
# into its error log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "stderr": {"class": "logging.StreamHandler"},
    },
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "ERROR"},
    },
}
