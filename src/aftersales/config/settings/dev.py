"""Development and the embedded `make run` default: safe local keys, SQLite, in-process tasks."""

from .base import *  # noqa: F403
from .base import AUDIT_HMAC_KEY, BLIND_INDEX_KEY, FIELD_ENCRYPTION_KEYS, SECRET_KEY, VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-secret-key-change-me-in-production"
# Development keys only: production settings refuse to start without real ones.
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or [
    "dev1:ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="
]
BLIND_INDEX_KEY = BLIND_INDEX_KEY or "dev-only-blind-index-key"
AUDIT_HMAC_KEY = AUDIT_HMAC_KEY or "dev-only-audit-hmac-key"
# Notification e-mails land as files in var/mail: readable, and no mail server needed.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
