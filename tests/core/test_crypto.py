import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from aftersales.core import crypto

OLD = "k1:" + "a" * 43 + "="
NEW = "k2:" + "b" * 43 + "="


@given(st.text(max_size=300))
def test_round_trip_any_text(text: str) -> None:
    assert crypto.decrypt(crypto.encrypt(text)) == text


def test_ciphertext_hides_value_and_is_randomised() -> None:
    a, b = crypto.encrypt("13800138000"), crypto.encrypt("13800138000")
    assert a != b
    assert "13800138000" not in a


def test_tampering_is_detected() -> None:
    token = crypto.encrypt("secret")
    head, body = token.rsplit(".", 1)
    flipped = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(f"{head}.{flipped}")


def test_rotation_old_values_still_decrypt() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        old_token = crypto.encrypt("老数据")
        assert crypto.key_id_of(old_token) == "k1"
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        assert crypto.decrypt(old_token) == "老数据"
        assert crypto.key_id_of(crypto.encrypt("新数据")) == "k2"
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old_token)


def test_bad_key_configuration_is_refused() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=["nokid"]), pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x")
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=["k:c2hvcnQ="]),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.encrypt("x")


def test_blind_index_is_keyed_and_purpose_bound() -> None:
    a = crypto.blind_index("+8613800138000", purpose="phone")
    assert a == crypto.blind_index("+8613800138000", purpose="phone")
    assert a != crypto.blind_index("+8613800138000", purpose="email")
    assert "13800138000" not in a
    with override_settings(BLIND_INDEX_KEY="another-key"):
        assert crypto.blind_index("+8613800138000", purpose="phone") != a


# --- keys from the environment or from secrets files (config/settings) ------------------------

KEY_A = "k1:" + "a" * 43 + "="
KEY_B = "k2:" + "b" * 43 + "="


def _load_prod_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the production settings in a fresh interpreter with exactly `env` as secrets."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "DJANGO_"))
    }
    base.update(
        SECRET_KEY="x" * 50, AUDIT_HMAC_KEY="audit-key", AFTERSALES_VAR_DIR=str(tmp_path), **env
    )
    code = (
        "from aftersales.config.settings import prod as s; "
        "print(repr((s.FIELD_ENCRYPTION_KEYS, s.BLIND_INDEX_KEY)))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=60
    )


def test_production_reads_the_keys_from_secrets_files(tmp_path: Path) -> None:
    keys = tmp_path / "field_keys"
    keys.write_text(f"# rotated 2026-11: new key first\n{KEY_B}\n{KEY_A}\n")
    index_key = tmp_path / "blind_index_key"
    index_key.write_text("a-long-random-index-key\n")

    result = _load_prod_settings(
        tmp_path, FIELD_ENCRYPTION_KEYS_FILE=str(keys), BLIND_INDEX_KEY_FILE=str(index_key)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(([KEY_B, KEY_A], "a-long-random-index-key"))


def test_production_reads_the_keys_from_the_environment(tmp_path: Path) -> None:
    result = _load_prod_settings(
        tmp_path, FIELD_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}", BLIND_INDEX_KEY="index-key"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(([KEY_B, KEY_A], "index-key"))


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"BLIND_INDEX_KEY": "k"}, "FIELD_ENCRYPTION_KEYS must be set in production"),
        ({"FIELD_ENCRYPTION_KEYS": KEY_A}, "BLIND_INDEX_KEY must be set in production"),
        (
            {"FIELD_ENCRYPTION_KEYS": KEY_A, "BLIND_INDEX_KEY_FILE": "/nonexistent/key"},
            "BLIND_INDEX_KEY_FILE '/nonexistent/key' cannot be read",
        ),
        (
            {"FIELD_ENCRYPTION_KEYS": KEY_A, "BLIND_INDEX_KEY": "k", "BLIND_INDEX_KEY_FILE": "/k"},
            "set BLIND_INDEX_KEY or BLIND_INDEX_KEY_FILE, not both",
        ),
        ({"FIELD_ENCRYPTION_KEYS": "k1:c2hvcnQ=", "BLIND_INDEX_KEY": "k"}, "must be 32 bytes"),
        ({"FIELD_ENCRYPTION_KEYS": "k1:???", "BLIND_INDEX_KEY": "k"}, "is not base64"),
    ],
)
def test_production_refuses_to_start_without_good_keys(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    result = _load_prod_settings(tmp_path, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and says in result.stderr


def test_an_empty_keys_file_is_no_keys(tmp_path: Path) -> None:
    keys = tmp_path / "field_keys"
    keys.write_text("# nothing here yet\n")

    result = _load_prod_settings(
        tmp_path, FIELD_ENCRYPTION_KEYS_FILE=str(keys), BLIND_INDEX_KEY="k"
    )

    assert "FIELD_ENCRYPTION_KEYS must be set in production" in result.stderr
