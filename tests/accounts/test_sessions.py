"""Staff sessions: a new key at sign-in, idle and absolute timeouts, ending sessions on password
and security changes, and re-authentication before changing one's e-mail or phone."""

import datetime as dt
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.services import sessions_end
from aftersales.accounts.sessions import session_keep_stored_hash
from aftersales.core import clock
from aftersales.core.models import AuditEvent
from tests.auth import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
PAGE = "/account/"
NEW_PASSWORD = "quiet harbour lantern 42"


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def signed_in_at(user: User, moment: dt.datetime) -> Client:
    with clock.frozen_at(moment):
        return sign_in(Client(), user)


def get_at(client: Client, moment: dt.datetime, path: str = PAGE, **headers: Any) -> Any:
    with clock.frozen_at(moment):
        return client.get(path, headers=headers)


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def session_store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


# --- sign-in --------------------------------------------------------------------------------


def test_signing_in_gives_the_session_a_new_key(agent: User) -> None:
    client = Client()
    before = client.session  # an anonymous session, e.g. planted by an attacker
    before["planted"] = True
    before.save()
    old_key = before.session_key
    response = client.post("/login/", {"username": "agent", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.session_key != old_key
    assert not session_store()().exists(old_key)
    assert is_signed_in(client)


# --- timeouts -------------------------------------------------------------------------------


def test_a_session_in_use_stays_and_an_idle_one_ends(agent: User) -> None:
    client = signed_in_at(agent, T0)
    assert get_at(client, T0 + minutes(29)).status_code == 200
    assert get_at(client, T0 + minutes(58)).status_code == 200  # each use restarts the wait
    response = get_at(client, T0 + minutes(58 + 30))
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/"
    assert not is_signed_in(client)
    login_page = get_at(client, T0 + minutes(89), "/login/?next=/account/")
    assert "Your session has expired. Please sign in again." in login_page.content.decode()


def test_a_session_ends_twelve_hours_after_sign_in_however_busy(agent: User) -> None:
    client = signed_in_at(agent, T0)
    moment = T0
    while moment + minutes(20) < T0 + dt.timedelta(hours=12):
        moment += minutes(20)
        assert get_at(client, moment).status_code == 200
    response = get_at(client, T0 + dt.timedelta(hours=12))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not is_signed_in(client)


def test_an_expired_session_gets_401_session_expired_from_the_api(agent: User) -> None:
    client = signed_in_at(agent, T0)
    assert get_at(client, T0 + minutes(10), "/api/v1/auth/me").status_code == 200
    response = get_at(client, T0 + minutes(41), "/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"
    assert get_at(client, T0 + minutes(42), "/api/v1/auth/me").json()["code"] == "unauthenticated"


def test_an_expired_session_sends_htmx_to_the_sign_in_page(agent: User) -> None:
    client = signed_in_at(agent, T0)
    response = get_at(client, T0 + minutes(31), HX_Request="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?next=/account/"


@pytest.mark.parametrize(
    ("idle", "absolute", "alive_after", "gone_after"), [(5, 60, 4, 10), (120, 180, 100, 181)]
)
def test_the_timeouts_are_settings(
    agent: User, settings: Any, idle: int, absolute: int, alive_after: int, gone_after: int
) -> None:
    settings.SESSION_IDLE_TIMEOUT = idle * 60
    settings.SESSION_ABSOLUTE_TIMEOUT = absolute * 60
    client = signed_in_at(agent, T0)
    assert get_at(client, T0 + minutes(alive_after)).status_code == 200
    assert get_at(client, T0 + minutes(gone_after)).status_code == 302


# --- ending sessions ------------------------------------------------------------------------


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(agent: User) -> None:
    here = signed_in_at(agent, T0)
    elsewhere = signed_in_at(agent, T0)
    with clock.frozen_at(T0 + minutes(1)):
        response = here.post(
            "/account/password/",
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
    assert response.status_code == 302 and response["Location"] == PAGE
    assert get_at(here, T0 + minutes(2)).status_code == 200
    assert get_at(elsewhere, T0 + minutes(2)).status_code == 302
    agent.refresh_from_db()
    assert agent.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="auth.password_changed", entity_id=agent.pk).exists()


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failure(agent: User) -> None:
    client = signed_in_at(agent, T0)
    data = {"old_password": "not it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    with clock.frozen_at(T0 + minutes(1)):
        for _ in range(5):
            assert client.post("/account/password/", data).status_code == 422
        response = client.post("/account/password/", {**data, "old_password": PASSWORD})
    assert response.status_code == 429  # locked like the sign-in form
    agent.refresh_from_db()
    assert agent.check_password(PASSWORD)


def test_a_weak_new_password_is_refused(agent: User) -> None:
    client = signed_in_at(agent, T0)
    with clock.frozen_at(T0 + minutes(1)):
        response = client.post(
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": "short1", "new_password2": "short1"},
        )
    assert response.status_code == 422
    assert "This password is too short" in response.content.decode()
    agent.refresh_from_db()
    assert agent.check_password(PASSWORD)


def test_sessions_end_ends_every_other_session_but_keeps_the_given_one(agent: User) -> None:
    kept = signed_in_at(agent, T0)
    others = [signed_in_at(agent, T0) for _ in range(2)]
    with clock.frozen_at(T0 + minutes(1)):
        sessions_end(user=agent, keep_session_key=kept.session.session_key, reason="mfa_changed")
    assert get_at(kept, T0 + minutes(2)).status_code == 200
    for client in others:
        assert get_at(client, T0 + minutes(2)).status_code == 302
    row = AuditEvent.objects.get(action="auth.sessions_ended")
    assert row.entity_id == agent.pk and row.data == {"reason": "mfa_changed", "kept_one": True}


def test_sessions_end_without_a_kept_session_ends_them_all(agent: User) -> None:
    clients = [signed_in_at(agent, T0) for _ in range(2)]
    sessions_end(user=agent, reason="requested")
    for client in clients:
        assert get_at(client, T0 + minutes(1)).status_code == 302


def test_sessions_end_never_keeps_someone_elses_session(agent: User, other_agent: User) -> None:
    theirs = signed_in_at(other_agent, T0)
    mine = signed_in_at(agent, T0)
    sessions_end(user=agent, keep_session_key=theirs.session.session_key, reason="requested")
    assert get_at(theirs, T0 + minutes(1)).status_code == 200  # untouched, still theirs
    assert get_at(mine, T0 + minutes(1)).status_code == 302


def test_a_kept_session_survives_the_request_that_ended_the_others(agent: User) -> None:
    """The request that calls `sessions_end` holds the old hash in memory; saving its session
    at the end must not undo the renewal of the kept session."""
    client = signed_in_at(agent, T0)
    key = client.session.session_key
    in_request = session_store()(key)
    in_request["otp_step"] = "changed during the request"  # the session is saved afterwards
    sessions_end(user=agent, keep_session_key=key, reason="mfa_changed")
    session_keep_stored_hash(in_request, agent.pk)
    in_request.save()
    assert in_request[HASH_SESSION_KEY] == User.objects.get(pk=agent.pk).get_session_auth_hash()
    assert get_at(client, T0 + minutes(1)).status_code == 200


# --- re-authentication before changing e-mail or phone --------------------------------------


def test_changing_email_or_phone_needs_the_password_again(agent: User) -> None:
    client = signed_in_at(agent, T0)
    change = {"email": "agent.new@example.com", "phone": "138 0013 8000"}
    page = get_at(client, T0 + minutes(1))
    assert "/account/reauth/?next=%2Faccount%2F" in page.content.decode()
    with clock.frozen_at(T0 + minutes(1)):
        refused = client.post(PAGE, change)
    assert refused.status_code == 302
    assert refused["Location"] == "/account/reauth/?next=%2Faccount%2F"
    agent.refresh_from_db()
    assert agent.email == "" and agent.phone == ""

    with clock.frozen_at(T0 + minutes(2)):
        confirmed = client.post("/account/reauth/", {"password": PASSWORD, "next": PAGE})
        assert confirmed.status_code == 302 and confirmed["Location"] == PAGE
        assert 'name="email"' in client.get(PAGE).content.decode()  # the form is open now
        saved = client.post(PAGE, change)
    assert saved.status_code == 302 and saved["Location"] == PAGE
    agent.refresh_from_db()
    assert agent.email == "agent.new@example.com" and agent.phone == "+8613800138000"
    row = AuditEvent.objects.get(action="staff.contact_changed")
    assert row.data == {
        "email": {"before": "", "after": "a***@example.com"},
        "phone": {"before": "", "after": "+86 138****8000"},
    }

    with clock.frozen_at(T0 + minutes(2 + 6)):  # the confirmation lasts five minutes
        late = client.post(PAGE, {"email": "late@example.com", "phone": ""})
    assert late.status_code == 302 and late["Location"].startswith("/account/reauth/")
    agent.refresh_from_db()
    assert agent.email == "agent.new@example.com"


def test_a_bad_phone_number_is_refused_and_changes_nothing(agent: User) -> None:
    client = signed_in_at(agent, T0)
    with clock.frozen_at(T0 + minutes(1)):
        client.post("/account/reauth/", {"password": PASSWORD, "next": PAGE})
        response = client.post(PAGE, {"email": "agent@example.com", "phone": "12"})
    assert response.status_code == 422
    assert "is not a" in response.content.decode()
    agent.refresh_from_db()
    assert agent.email == "" and agent.phone == ""
    assert not AuditEvent.objects.filter(action="staff.contact_changed").exists()
