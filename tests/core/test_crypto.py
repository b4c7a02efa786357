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
