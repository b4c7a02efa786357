"""Settings shared by every environment; values come from the environment (12-factor)."""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

SRC_DIR = Path(__file__).resolve().parents[2]
PROJECT_DIR = SRC_DIR.parent.parent if (SRC_DIR.parent.name == "src") else SRC_DIR.parent
VAR_DIR = Path(environ.Env().str("AFTERSALES_VAR_DIR", default=str(PROJECT_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "aftersales.core",
    "aftersales.accounts",
    "aftersales.customers",
    "aftersales.catalog",
    "aftersales.cases",
    "aftersales.sla",
    "aftersales.notifications",
    "aftersales.integrations",
    "aftersales.privacy",
    "aftersales.complaints",
    "aftersales.callbacks",
    "aftersales.parts",
    "aftersales.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "aftersales.core.middleware.security_headers",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "aftersales.core.middleware.api_error_shape",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "aftersales.accounts.middleware.session_security",
    "aftersales.accounts.middleware.mfa_required",
    "aftersales.core.audit_middleware.audit_denials",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aftersales.config.urls"
WSGI_APPLICATION = "aftersales.config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aftersales.web.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'aftersales.sqlite3'}")
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run while one writer commits; IMMEDIATE makes write transactions take
    # the write lock up front, so concurrent intakes queue instead of failing with "locked".
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [SRC_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="CNY")
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="CN")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it to exist
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

SECRET_KEY = env.str("SECRET_KEY", default="")


def _secret(name: str) -> str:
    """A secret from the environment variable `name`, or from the file named by `name`_FILE
    (e.g. a mounted Docker/Kubernetes secret); never both, never the database."""
    value: str = env.str(name, default="")
    path: str = env.str(f"{name}_FILE", default="")
    if value and path:
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    if not path:
        return value
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE {path!r} cannot be read: {exc}") from exc


# Field encryption keys (core.crypto): "kid:base64-32-byte-key" entries separated by commas or
# lines (a file may carry "#" comment lines); the first encrypts, all decrypt. Rotation: put a
# new key first, deploy, run `aftersales reencrypt`, then remove the old key.
FIELD_ENCRYPTION_KEYS: list[str] = [
    entry.strip()
    for line in _secret("FIELD_ENCRYPTION_KEYS").splitlines()
    if not line.lstrip().startswith("#")
    for entry in line.split(",")
    if entry.strip()
]
# Key of the HMAC blind indexes used for exact-match look-ups of encrypted values (phones,
# e-mails, names). Rotation: deploy the new key, run `aftersales reencrypt --rebuild-blind-index`.
BLIND_INDEX_KEY = _secret("BLIND_INDEX_KEY")

# Outgoing mail (notification copies): SMTP via EMAIL_HOST...; the embedded default writes
# them to files under var/mail instead of needing a mail server (see dev.py).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="aftersales@localhost")
# The name that signs letters to customers (complaint answers); empty: "售后服务中心" / "the
# After-sales Service Centre" in the letter's language.
COMPANY_NAME = env.str("COMPANY_NAME", default="")

REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not bool(REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
# Periodic work, run by `celery beat` in production and by the in-process scheduler of
# `aftersales serve` in the embedded default. Sweeps are idempotent, so a missed or doubled
# tick is harmless.
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {"task": "sla.sweep", "schedule": env.float("SLA_SWEEP_SECONDS", default=60.0)},
    "routing-sweep": {
        "task": "cases.routing_sweep",
        "schedule": env.float("ROUTING_SWEEP_SECONDS", default=60.0),
    },
    "tiers-recompute": {
        "task": "customers.tiers_recompute",
        "schedule": crontab(hour=2, minute=30),
    },
    "calendars-sync-holidays": {
        "task": "core.calendars_sync_holidays",
        "schedule": crontab(day_of_month=1, hour=3, minute=0),
    },
    # VIP care calls (关怀回访) due today, on the callback worklist before the team starts.
    "callbacks-care-calls": {
        "task": "callbacks.care_calls_schedule",
        "schedule": crontab(hour=6, minute=15),
    },
    # Spare parts: reservations lapse, then the month's classification and forecast, targets
    # from the new forecast, and replenishment suggestions every morning for the warehouse.
    "parts-reservations-expire": {
        "task": "parts.reservations_expire",
        "schedule": crontab(minute="*/15"),
    },
    "parts-classify": {
        "task": "parts.classify",
        "schedule": crontab(day_of_month=1, hour=3, minute=0),
    },
    "parts-forecast": {
        "task": "parts.forecast",
        "schedule": crontab(day_of_month=1, hour=4, minute=0),
    },
    "parts-targets": {
        "task": "parts.targets",
        "schedule": crontab(day_of_month=1, hour=5, minute=0),
    },
    "parts-replenishment": {
        "task": "parts.replenishment_suggest",
        "schedule": crontab(hour=5, minute=30),
    },
}
CELERY_TASK_ACKS_LATE = True  # a task lost with a killed worker is delivered again
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Run the beat schedule in a thread of the web process (only when no broker is configured).
EMBEDDED_SCHEDULER = env.bool("EMBEDDED_SCHEDULER", default=not bool(REDIS_URL))

# Calendar of staff who have none of their own (agents' shifts, routing availability).
DEFAULT_WORK_CALENDAR = env.str("DEFAULT_WORK_CALENDAR", default="cn-mainland")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

NINJA_PAGINATION_PER_PAGE = 50

# Every record that reaches a handler has phone numbers and e-mail addresses masked first
# (core.logging.RedactPersonalData), whatever logger wrote it: logs are kept longer and read by
# more people than the database, so no personal data goes there in the clear.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_pii": {"()": "aftersales.core.logging.RedactPersonalData"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_pii"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers (its console and the development server's request log) would
        # bypass the filter: they are replaced by the filtered console.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise when the embedded scheduler runs them in-process.
        "celery.app.trace": {"level": env.str("TASK_LOG_LEVEL", default="WARNING")},
    },
}
# The SLA sweep's partial indexes carry `case_id` (INCLUDE) for index-only scans on PostgreSQL;
# SQLite ignores the extra column, which is fine for the embedded default.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Case attachments and browser security (web slice of the ASVS work) ---
# Uploaded case files: outside STATIC_ROOT and MEDIA_ROOT, served by no URL of their own, only
# through the case they belong to (`cases.attachments`).
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_PER_CASE = env.int("ATTACHMENT_MAX_PER_CASE", default=20)
# As an installed app, django-ninja serves its API docs from our own static files with no
# inline script, so /api/v1/docs works under the Content-Security-Policy (no CDN).
INSTALLED_APPS += ["ninja"]

# --- Sign-in throttling, sessions and passwords (accounts: throttle.py, middleware.py) ---
# Failed attempts per scope, counted by three keys: "pair" = one account from one address,
# "account" = one account from any address, "address" = one address for any account. Each
# tier is (failures, window in seconds) -> locked for `lock` seconds, doubled for each lock in
# a row up to `lock_max`; None leaves a tier uncounted. Broad locks never bind an address the
# account succeeded from within THROTTLE_TRUSTED_SECONDS, so nobody is locked out for good.
# "lookup" counts every caller look-up by a member of staff (a scraping account is slowed);
# no address tier there, since a whole call centre may share one address.
THROTTLE_LIMITS: dict[str, dict[str, object]] = {
    "login": {
        "pair": (5, 15 * 60),
        "account": (20, 3600),
        "address": (50, 3600),
        "lock": 60,
        "lock_max": 3600,
    },
    "mfa": {
        "pair": (5, 15 * 60),
        "account": (20, 3600),
        "address": (50, 3600),
        "lock": 60,
        "lock_max": 3600,
    },
    "password_reset": {
        "pair": (3, 3600),
        "account": (5, 3600),
        "address": (20, 3600),
        "lock": 15 * 60,
        "lock_max": 3600,
    },
    "lookup": {
        "pair": (120, 15 * 60),
        "account": (300, 3600),
        "address": None,
        "lock": 5 * 60,
        "lock_max": 3600,
    },
}
THROTTLE_TRUSTED_SECONDS = env.int("THROTTLE_TRUSTED_SECONDS", default=30 * 24 * 3600)
# Counters untouched for this long are deleted by the "accounts-throttle-prune" task.
THROTTLE_RETENTION_SECONDS = env.int("THROTTLE_RETENTION_SECONDS", default=2 * 24 * 3600)
CELERY_BEAT_SCHEDULE["accounts-throttle-prune"] = {
    "task": "accounts.throttle_prune",
    "schedule": crontab(minute=17),
}
# The client address is REMOTE_ADDR: the reverse proxy in front must set it to the real peer
# (e.g. gunicorn behind nginx with `proxy_protocol`/`set_real_ip_from`). X-Forwarded-For is only
# believed when the direct peer is listed here (its right-most untrusted entry is taken).
TRUSTED_PROXIES: list[str] = env.list("TRUSTED_PROXIES", default=[])
# Sessions end after this much inactivity, and this long after sign-in whatever happens.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=12 * 3600)
# Changing one's e-mail or phone needs the password re-entered within this many seconds.
REAUTH_MAX_AGE = env.int("REAUTH_MAX_AGE", default=5 * 60)
# A password-reset link works once, for one hour (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Passwords by length and against known lists, no composition rules (NIST 800-63B, ASVS 6.2):
# the numeric-only rule is dropped; BREACHED_PASSWORDS_FILE (one lower-case password per line,
# optionally gzipped, e.g. a local copy of a breach corpus) adds a second list to Django's own.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if env.str("BREACHED_PASSWORDS_FILE", default=""):
    AUTH_PASSWORD_VALIDATORS.append(
        {
            "NAME": "django.contrib.auth.password_validation.CommonPasswordValidator",
            "OPTIONS": {"password_list_path": env.str("BREACHED_PASSWORDS_FILE")},
        }
    )

# --- Outgoing calls to configured URLs (webhooks, integrations): the SSRF guard -------------
# Every such request goes through aftersales.core.outbound: https only, no credentials in the
# URL, allowed ports only, every resolved address public, the checked IP pinned, no redirects.
OUTBOUND_ALLOW_HTTP = env.bool("OUTBOUND_ALLOW_HTTP", default=False)  # plain http (adds port 80)
OUTBOUND_ALLOWED_PORTS: list[int] = env.list("OUTBOUND_ALLOWED_PORTS", cast=int, default=[443])
# Host names URLs may point at: exact names or "*.example.com"; empty means any public host.
OUTBOUND_ALLOWED_HOSTS: list[str] = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])
# CIDRs treated as reachable although not public. For tests (a local server on 127.0.0.1)
# only: production leaves it empty, which is why it is not read from the environment.
OUTBOUND_ALLOWED_NETWORKS: list[str] = []
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=10.0)
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=64 * 1024)
# CA bundle to verify receivers' certificates with; empty: the system's trust store.
OUTBOUND_CA_FILE = env.str("OUTBOUND_CA_FILE", default="")
# Webhook deliveries that failed are tried again by this sweep, with back-off (integrations).
CELERY_BEAT_SCHEDULE["integrations-webhooks-retry"] = {
    "task": "integrations.webhooks_retry",
    "schedule": env.float("WEBHOOK_RETRY_SWEEP_SECONDS", default=60.0),
}

# --- Audit log (OWASP ASVS V16) -----------------------------------------------------------------
# Key of the HMAC that chains audit rows (core.AuditEvent.row_hash): keep it out of the database
# and away from its administrators, or they could rewrite the chain after altering a row.
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", default="")

# --- Privacy: retention (privacy.services.retention_apply) --------------------------------------
# Every night at 03:30 local time, after the tier run (02:30): read notifications, expired
# sessions and idle sign-in counters past their keep period are deleted, inactive customers are
# anonymised. The periods are the RetentionRule rows (admin site), not settings.
CELERY_BEAT_SCHEDULE["privacy-retention"] = {
    "task": "privacy.retention_apply",
    "schedule": crontab(hour=3, minute=30),
}

# --- Spare parts planning (parts.planning) ------------------------------------------------------
# On the 1st, once the month is complete: classification first (ABC/XYZ/demand pattern), then
# the forecast, whose method and storage follow the class policies.

# --- Multi-factor authentication of staff (accounts: mfa.py, middleware.mfa_required) ---
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Aftersales")
# Wrong codes are limited by the project's throttle (scope "mfa" in THROTTLE_LIMITS), whose locks
# are capped and never bind an address the account signed in from. django-otp's own per-device
# back-off doubles without a cap, so someone who knows a password could keep its owner from
# signing in for days: it is switched off.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# Administrators may remove a device (a lost phone: the owner enrols again at next sign-in) but
# never see a secret or its QR code in the admin site.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
