"""Field encryption at rest (AES-256-GCM with key ids) and the keyed HMAC blind index.

Stored form: ``v1.<key id>.<urlsafe base64 of 12-byte nonce || ciphertext || 16-byte tag>``.

Keys come from the environment or a secrets file, never from the database:
``FIELD_ENCRYPTION_KEYS`` (or the file named by ``FIELD_ENCRYPTION_KEYS_FILE``) is a list of
``kid:base64`` entries, each a 32-byte AES key in URL-safe base64 under a short id without dots
(e.g. ``2026a:3q2+7w...=``). The first entry encrypts; every entry decrypts. The key id travels
with each value, so rotation is: put a new key first, keep the old ones after it, deploy, run
``aftersales reencrypt`` (which rewrites every value under the first key, resumably), then drop
the old keys once ``aftersales reencrypt --dry-run`` counts no value under them.

``BLIND_INDEX_KEY`` (or ``BLIND_INDEX_KEY_FILE``) keys the HMAC-SHA256 blind indexes that let the
database find equal values (a caller's phone number, an exact name) without holding them. A
blind index leaks equality: rows with the same value have the same index. Rotating it means
recomputing every index: deploy the new key, then ``aftersales reencrypt --rebuild-blind-index``
(exact-match look-ups miss rows not yet rebuilt until it finishes).
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "v1"


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _parse_keys(raw: tuple[str, ...]) -> tuple[str, dict[str, AESGCM]]:
    if not raw:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    keys: dict[str, AESGCM] = {}
    primary = ""
    for entry in raw:
        kid, sep, b64 = entry.strip().partition(":")
        if not sep or not kid or "." in kid:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like 'kid:base64key'")
        try:
            # Strict: a mangled key is refused, never silently shortened. Both alphabets pass.
            material = base64.b64decode(b64.encode(), altchars=b"-_", validate=True)
        except ValueError as exc:  # binascii.Error: not base64
            raise ImproperlyConfigured(f"encryption key {kid!r} is not base64") from exc
        if len(material) != 32:
            raise ImproperlyConfigured(f"encryption key {kid!r} must be 32 bytes")
        keys[kid] = AESGCM(material)
        primary = primary or kid
    return primary, keys


def _keys() -> tuple[str, dict[str, AESGCM]]:
    return _parse_keys(tuple(settings.FIELD_ENCRYPTION_KEYS))


def primary_key_id() -> str:
    """The id of the key new values are encrypted with."""
    return _keys()[0]


def encrypt(plaintext: str, *, context: bytes = b"") -> str:
    """Encrypt `plaintext` under the primary key; `context` is bound as associated data."""
    kid, keys = _keys()
    nonce = os.urandom(12)
    sealed = keys[kid].encrypt(nonce, plaintext.encode("utf-8"), context)
    return f"{PREFIX}.{kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, context: bytes = b"") -> str:
    """Decrypt a value produced by `encrypt` with whichever configured key it names."""
    try:
        prefix, kid, b64 = token.split(".", 2)
    except ValueError as exc:
        raise DecryptionError("not an encrypted value") from exc
    keys = _keys()[1]
    if prefix != PREFIX or kid not in keys:
        raise DecryptionError(f"no key {kid!r} configured")
    raw = base64.urlsafe_b64decode(b64.encode())
    try:
        return keys[kid].decrypt(raw[:12], raw[12:], context).decode("utf-8")
    except Exception as exc:  # cryptography raises InvalidTag
        raise DecryptionError("value does not decrypt (tampered or wrong key)") from exc


def key_id_of(token: str) -> str:
    """The key id a stored value was encrypted with."""
    return token.split(".", 2)[1]


def key_ids() -> list[str]:
    """The configured key ids, the primary (encrypting) one first."""
    primary, keys = _keys()
    return [primary, *(kid for kid in keys if kid != primary)]


def looks_encrypted(value: str) -> bool:
    """Whether a stored value has the encrypted form (it may still fail to decrypt)."""
    return value.startswith(f"{PREFIX}.") and value.count(".") >= 2


def validate_keys(entries: list[str]) -> None:
    """Refuse a malformed key list at start-up instead of at the first encrypted read."""
    _parse_keys(tuple(entries))


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC-SHA256 of a normalised value: equal inputs match, nothing is revealed."""
    key = settings.BLIND_INDEX_KEY
    if not key:
        raise ImproperlyConfigured("BLIND_INDEX_KEY is empty")
    msg = f"{purpose}\x00{value}".encode()
    return hmac.new(key.encode("utf-8"), msg, hashlib.sha256).hexdigest()[:40]
