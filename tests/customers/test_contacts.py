"""Tests of customers.contacts: the normal forms contacts are stored and looked up in."""

import pytest

from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.customers.contacts import contact_lookup_hash, contact_normalize


def test_phone_is_e164_and_indexed_as_a_phone() -> None:
    value, digest = contact_normalize(kind="phone", raw="0086 138-0013-8000")

    assert value == "+8613800138000"
    assert digest == blind_index("+8613800138000", purpose="phone")


def test_email_is_lower_cased_and_indexed_as_an_email() -> None:
    value, digest = contact_normalize(kind="email", raw="  Li.Wei@Example.COM ")

    assert value == "li.wei@example.com"
    assert digest == blind_index("li.wei@example.com", purpose="email")


def test_the_same_text_hashes_differently_per_kind() -> None:
    assert contact_lookup_hash(kind="phone", value="x") != contact_lookup_hash(
        kind="email", value="x"
    )


@pytest.mark.parametrize(
    ("kind", "raw", "code"),
    [
        ("phone", "abc", "invalid_phone"),
        ("phone", "", "invalid_phone"),
        ("email", "li@", "invalid_email"),
        ("fax", "1", "invalid_contact_kind"),
    ],
)
def test_garbage_is_a_422_with_a_code(kind: str, raw: str, code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        contact_normalize(kind=kind, raw=raw)

    assert (exc.value.code, exc.value.status_code) == (code, 422)
