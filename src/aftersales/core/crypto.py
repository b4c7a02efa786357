"""Field encryption at rest (AES-256-GCM with key ids) and the keyed HMAC blind index.

Stored form: ``v1.<key id>.<urlsafe base64 of nonce || ciphertext>``. The key id travels with the
value, so keys rotate by adding a new first key to ``FIELD_ENCRYPTION_KEYS``; older keys keep
decrypting until everything is re-encrypted.
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
        material = base64.urlsafe_b64decode(b64.encode())
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


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC-SHA256 of a normalised value: equal inputs match, nothing is revealed."""
    key = settings.BLIND_INDEX_KEY
    if not key:
        raise ImproperlyConfigured("BLIND_INDEX_KEY is empty")
    msg = f"{purpose}\x00{value}".encode()
    return hmac.new(key.encode("utf-8"), msg, hashlib.sha256).hexdigest()[:40]
