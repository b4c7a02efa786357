"""Settings shared by every environment; values come from the environment (12-factor)."""

from pathlib import Path

import environ
from celery.schedules import crontab

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
    "aftersales.privacy",
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
# "kid:base64-32-byte-key" entries, comma separated; the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Key of the HMAC blind index used for exact-match look-ups of encrypted values.
BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default="")

# Outgoing mail (notification copies): SMTP via EMAIL_HOST...; the embedded default writes
# them to files under var/mail instead of needing a mail server (see dev.py).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="aftersales@localhost")

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise when the embedded scheduler runs them in-process.
        "celery.app.trace": {"level": env.str("TASK_LOG_LEVEL", default="WARNING")},
    },
}
# The SLA sweep's partial indexes carry `case_id` (INCLUDE) for index-only scans on PostgreSQL;
# SQLite ignores the extra column, which is fine for the embedded default.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
