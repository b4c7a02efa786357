"""Production: every secret must come from the environment; nothing has a default."""

from django.core.exceptions import ImproperlyConfigured

from aftersales.core.crypto import validate_keys

from .base import *  # noqa: F403
from .base import AUDIT_HMAC_KEY, BLIND_INDEX_KEY, FIELD_ENCRYPTION_KEYS, SECRET_KEY, env

DEBUG = False
for _name, _value in (
    ("SECRET_KEY", SECRET_KEY),
    ("FIELD_ENCRYPTION_KEYS", FIELD_ENCRYPTION_KEYS),
    ("BLIND_INDEX_KEY", BLIND_INDEX_KEY),
    ("AUDIT_HMAC_KEY", AUDIT_HMAC_KEY),
):
    if not _value:
        raise ImproperlyConfigured(
            f"{_name} must be set in production (in the environment; the two field keys may "
            f"come from a file named by {_name}_FILE instead)"
        )
# A malformed encryption key stops the start, not the first read of a customer.
validate_keys(FIELD_ENCRYPTION_KEYS)

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only (ASVS 12.2): plain HTTP is redirected, and browsers are told for a year (HSTS) to
# use nothing else for this host and its subdomains. A proxy that terminates TLS must pass
# X-Forwarded-Proto (above). HSTS preloading is a per-domain commitment an operator makes by
# submitting the domain to the browsers' list, so it is opt-in (security.W021 silenced below).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W021"]  # noqa: F405
