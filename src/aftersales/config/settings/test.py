"""Test settings: the dev defaults, fast hashing, in-process tasks."""

import tempfile
from pathlib import Path

from .dev import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
# Uploaded attachments of a test run go to a throwaway folder, not the developer's var/private.
PRIVATE_MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="aftersales-test-private-"))
