"""Password reset by e-mail: no account enumeration, throttled, a link that works once; and the
password rules (length and known-password lists, no composition rules)."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.core.models import AuditEvent
from tests.auth import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "seven paper cranes at dawn"


@pytest.fixture
def alice(make_staff: Callable[..., User]) -> User:
    user = make_staff(Role.FRONTLINE_AGENT, username="alice")
    user.email = "Alice@Example.com"
    user.save()
    return user


@pytest.fixture
def ask(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Ask for a reset link; the mail goes out once the request has committed."""

    def post(client: Client, email: str, **extra: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/account/password-reset/", {"email": email}, **extra)

    return post


def without_csrf_token(html: bytes) -> bytes:
    """The page without its per-client CSRF tokens."""
    html = re.sub(rb'name="csrf-token" content="[^"]*"', b"", html)
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", html)


def link_in(message: Any) -> str:
    found = re.search(r"https?://[^/\s]+(/account/password-reset/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_the_answer_is_the_same_whether_or_not_the_address_is_known(alice: User, ask: Any) -> None:
    known = ask(Client(), "alice@example.com", follow=True)
    unknown = ask(Client(), "nobody@example.com", follow=True)
    assert (
        known.redirect_chain == unknown.redirect_chain == [("/account/password-reset/sent/", 302)]
    )
    assert without_csrf_token(known.content) == without_csrf_token(unknown.content)
    assert "If an account uses that address" in known.content.decode()
    assert len(mail.outbox) == 1  # only the real account got a mail
    assert mail.outbox[0].to == ["Alice@Example.com"]
    requested = AuditEvent.objects.filter(action="auth.password_reset_requested")
    assert list(requested.values_list("entity_id", flat=True)) == [alice.pk]


def test_no_mail_for_a_disabled_account(alice: User, ask: Any) -> None:
    alice.is_active = False
    alice.save()
    assert ask(Client(), "alice@example.com").status_code == 302
    assert mail.outbox == []


def test_a_malformed_address_is_refused(db: Any, ask: Any) -> None:
    response = ask(Client(), "not an address")
    assert response.status_code == 422
    assert "Enter a valid email address." in response.content.decode()
    assert mail.outbox == []


def test_requests_are_throttled_alike_for_known_and_unknown_addresses(
    alice: User, ask: Any
) -> None:
    for address in ("alice@example.com", "nobody@example.com"):
        client = Client()
        for _ in range(3):
            assert ask(client, address).status_code == 302
        refused = ask(client, address)
        assert refused.status_code == 429
        assert "Too many attempts" in refused.content.decode()
        assert int(refused["Retry-After"]) > 0
    assert len(mail.outbox) == 3


def test_the_link_sets_a_new_password_once_and_ends_every_session(alice: User, ask: Any) -> None:
    signed_in = sign_in(Client(), alice)
    ask(Client(), "alice@example.com")
    link = link_in(mail.outbox[0])
    browser = Client()
    opened = browser.get(link)
    # Django moves the token into the session and out of the address (no Referer leak).
    assert opened.status_code == 302 and "set-password" in opened["Location"]
    form_url = opened["Location"]
    assert 'name="new_password1"' in browser.get(form_url).content.decode()

    weak = browser.post(form_url, {"new_password1": "password123", "new_password2": "password123"})
    assert weak.status_code == 422
    assert "This password is too common." in weak.content.decode()

    done = browser.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/account/password-reset/done/"
    assert authenticate(username="alice", password=NEW_PASSWORD) is not None
    assert authenticate(username="alice", password=PASSWORD) is None
    assert AuditEvent.objects.filter(
        action="auth.password_reset_completed", entity_id=alice.pk
    ).exists()
    assert signed_in.get("/account/").status_code == 302  # the old session has ended

    again = Client().get(link)
    assert again.status_code == 200
    assert "This link does not work" in again.content.decode()


def test_a_tampered_link_does_not_work(alice: User, ask: Any) -> None:
    ask(Client(), "alice@example.com")
    link = link_in(mail.outbox[0])
    tampered = link[:-3] + ("a" if link[-3] != "a" else "b") + link[-2:]
    response = Client().get(tampered)
    assert response.status_code == 200
    assert "This link does not work" in response.content.decode()


def test_the_sign_in_page_links_to_the_reset(db: Any) -> None:
    assert "/account/password-reset/" in Client().get("/login/").content.decode()


# --- the password rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "seven paper cranes at dawn",  # a passphrase: spaces and lower case are fine
        "8302749163528",  # digits only, but long and not a known password
        "冰箱不制冷请上门维修谢谢",  # any script
        "x" * 9 + "Y",
    ],
)
def test_any_composition_of_ten_characters_is_accepted(password: str, alice: User) -> None:
    validate_password(password, alice)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!xyz", "too short"),
        ("1234567890", "too common"),
        ("password123", "too common"),
        ("alice@example.com", "too similar"),
    ],
)
def test_short_common_and_personal_passwords_are_refused(
    password: str, reason: str, alice: User
) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_password(password, alice)
    assert any(reason in message for message in refused.value.messages)
