"""Multi-factor authentication of staff: the MFA gate, enrolment, codes, recovery, admin, tokens."""

import base64
import datetime as dt
import re
import time
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from aftersales.accounts import throttle
from aftersales.accounts.mfa import (
    RECOVERY_CODE_COUNT,
    mfa_recovery_codes_left,
    recovery_code_digest,
)
from aftersales.accounts.models import ApiToken, ThrottleCounter, User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create
from aftersales.core import clock
from aftersales.core.models import AuditEvent
from tests.auth import sign_in, totp_code, totp_device
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def password_only(client: Client, user: User) -> Client:
    """A session past the password step only, as the login form leaves it."""
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/")
    return client


def code_for_secret(secret: str, *, step_offset: int = 0) -> str:
    """What an authenticator app that scanned `secret` shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * step_offset
    return f"{totp.token():06d}"


def audit_actions(user: User) -> list[str]:
    return list(
        AuditEvent.objects.filter(entity="user", entity_id=user.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


def enrol(client: Client, user: User) -> list[str]:
    """Enrol through the page as a person would; returns the recovery codes shown."""
    page = client.get("/account/mfa/").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret is not None
    response = client.post("/account/mfa/", {"code": code_for_secret(secret.group(1))})
    assert response.status_code == 200
    return re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){5})</code>", response.content.decode())


# --- the gate -------------------------------------------------------------------------------


def test_password_alone_leads_to_the_mfa_page_not_the_app(client: Client, agent: User) -> None:
    password_only(client, agent)
    response = client.get("/cases/?status=open")
    assert response.status_code == 302
    assert response["Location"] == "/account/mfa/?next=%2Fcases%2F%3Fstatus%3Dopen"
    htmx = client.get("/cases/", headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"].startswith("/account/mfa/")
    # Open while the second step is pending: the MFA page itself, the language switch, sign-out;
    # the page offers nothing of the application (no navigation, no notifications link).
    page = client.get("/account/mfa/")
    assert page.status_code == 200
    assert 'id="notification-bell"' not in page.content.decode()
    assert 'class="mainnav"' not in page.content.decode()
    assert client.post("/i18n/setlang/", {"language": "en", "next": "/"}).status_code == 302
    assert client.post("/logout/").status_code == 302
    assert client.get("/cases/").status_code == 302  # signed out now
    assert client.get("/cases/")["Location"].startswith("/login/")


def test_api_with_an_unverified_session_answers_401_mfa_required(
    client: Client, agent: User
) -> None:
    password_only(client, agent)
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "mfa_required" and body["details"]["url"] == "/account/mfa/"


def test_bearer_token_is_not_held_up_by_an_unverified_session_cookie(
    client: Client, agent: User, other_agent: User
) -> None:
    from aftersales.accounts.services import api_token_create

    _, key = api_token_create(user=other_agent, name="crm")
    password_only(client, agent)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["username"] == "other_agent"
    # A wrong bearer token does not fall back on the unverified session.
    bad = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ast_nope"})
    assert bad.status_code == 401


def test_login_goes_through_the_mfa_step_to_where_the_person_was_going(
    client: Client, agent: User
) -> None:
    device = totp_device(agent)
    response = client.post(
        "/login/", {"username": "agent", "password": PASSWORD, "next": "/customers/call/"}
    )
    assert response["Location"] == "/account/mfa/?next=%2Fcustomers%2Fcall%2F"
    page = client.get(response["Location"])
    assert b'id="mfa-verify"' in page.content
    done = client.post("/account/mfa/", {"code": totp_code(device), "next": "/customers/call/"})
    assert done.status_code == 302 and done["Location"] == "/customers/call/"
    assert client.get("/customers/call/").status_code == 200
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id


def test_next_pointing_elsewhere_is_ignored(client: Client, agent: User) -> None:
    device = totp_device(agent)
    password_only(client, agent)
    done = client.post(
        "/account/mfa/", {"code": totp_code(device), "next": "https://evil.example/"}
    )
    assert done["Location"] == "/"


# --- enrolment ------------------------------------------------------------------------------


def test_first_sign_in_enrols_an_authenticator_and_shows_recovery_codes_once(
    client: Client, agent: User
) -> None:
    password_only(client, agent)
    page = client.get("/account/mfa/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="mfa-enrol"' in html
    assert "<svg" in html  # the QR code, inline
    pending = TOTPDevice.objects.get(user=agent)
    assert not pending.confirmed
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert secret is not None
    # A reload shows the same secret (the app may have scanned it already).
    assert secret.group(1) in client.get("/account/mfa/").content.decode()
    assert TOTPDevice.objects.filter(user=agent).count() == 1

    response = client.post("/account/mfa/", {"code": code_for_secret(secret.group(1))})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    shown = re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){5})</code>", response.content.decode())
    assert len(shown) == RECOVERY_CODE_COUNT == len(set(shown))
    pending.refresh_from_db()
    assert pending.confirmed
    # Only digests are stored; the codes exist only on that page.
    stored = set(StaticToken.objects.filter(device__user=agent).values_list("token", flat=True))
    assert stored == {recovery_code_digest(c) for c in shown}
    assert not stored & set(shown)
    # The session is verified: the app opens.
    assert client.get("/cases/").status_code == 200
    assert "mfa.enrolled" in audit_actions(agent)
    assert "auth.sessions_ended" in audit_actions(agent)


def test_a_set_up_secret_is_never_shown_to_another_session(agent: User) -> None:
    """Someone else who knows the password cannot plant a secret for the owner to confirm."""
    intruder = password_only(Client(), agent)
    planted = re.search(
        r'id="totp-secret">([A-Z2-7]+)<', intruder.get("/account/mfa/").content.decode()
    )
    owner = password_only(Client(), agent)
    shown = re.search(r'id="totp-secret">([A-Z2-7]+)<', owner.get("/account/mfa/").content.decode())
    assert planted is not None and shown is not None
    assert planted.group(1) != shown.group(1)
    assert TOTPDevice.objects.filter(user=agent).count() == 1  # the intruder's is gone
    refused = intruder.post("/account/mfa/", {"code": code_for_secret(planted.group(1))})
    assert refused.status_code == 401
    assert not TOTPDevice.objects.filter(user=agent, confirmed=True).exists()


def test_wrong_enrolment_code_is_refused_and_counted(client: Client, agent: User) -> None:
    password_only(client, agent)
    html = client.get("/account/mfa/").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert secret is not None
    wrong = code_for_secret(secret.group(1), step_offset=10)
    response = client.post("/account/mfa/", {"code": wrong})
    assert response.status_code == 401
    assert b"That code is not valid" in response.content
    assert not TOTPDevice.objects.get(user=agent).confirmed
    assert audit_actions(agent).count("mfa.failed") == 1
    assert client.get("/cases/").status_code == 302


# --- verification ---------------------------------------------------------------------------


def test_wrong_code_is_refused_counted_and_audited(client: Client, agent: User) -> None:
    device = totp_device(agent)
    password_only(client, agent)
    response = client.post("/account/mfa/", {"code": "000000"})
    if totp_code(device) == "000000":  # one chance in a million
        pytest.skip("the current code happens to be 000000")
    assert response.status_code == 401
    assert b"That code is not valid" in response.content
    assert client.get("/cases/").status_code == 302
    event = AuditEvent.objects.get(action="mfa.failed")
    assert event.actor_id == agent.pk and event.data == {"step": "verify"}
    assert event.ip == "127.0.0.1"
    pair = ThrottleCounter.objects.get(scope="mfa", kind="pair")
    assert pair.failures == 1


def test_too_many_wrong_codes_lock_even_the_right_one_for_a_while(
    client: Client, agent: User
) -> None:
    device = totp_device(agent)
    password_only(client, agent)
    for _ in range(5):
        response = client.post("/account/mfa/", {"code": "abc"})  # no such recovery code
        assert response.status_code == 401
    locked = client.post("/account/mfa/", {"code": totp_code(device)})
    assert locked.status_code == 429
    assert b"Too many attempts" in locked.content
    assert client.get("/cases/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    # The lock ends.
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=2)):
        again = client.post("/account/mfa/", {"code": totp_code(device)})
    assert again.status_code == 302


def test_a_totp_code_works_only_once(client: Client, agent: User) -> None:
    device = totp_device(agent)
    code = totp_code(device)
    first = password_only(Client(), agent).post("/account/mfa/", {"code": code})
    assert first.status_code == 302
    replay = password_only(client, agent).post("/account/mfa/", {"code": code})
    assert replay.status_code == 401


def test_recovery_code_signs_in_once_and_the_page_says_how_many_remain(
    client: Client, agent: User
) -> None:
    codes = enrol(password_only(client, agent), agent)
    assert mfa_recovery_codes_left(agent) == 10
    other = password_only(Client(), agent)
    response = other.post("/account/mfa/", {"code": codes[3].upper().replace("-", " ")})
    assert response.status_code == 302
    assert other.get("/cases/").status_code == 200
    assert mfa_recovery_codes_left(agent) == 9
    page = other.get("/account/security/").content.decode()
    assert "9 recovery codes left" in page

    third = password_only(Client(), agent)
    again = third.post("/account/mfa/", {"code": codes[3]})
    assert again.status_code == 401
    assert third.get("/cases/").status_code == 302


# --- the admin site -------------------------------------------------------------------------


@pytest.fixture
def administrator(db: Any) -> User:
    user = staff_create(
        username="root", password=PASSWORD, display_name="管理员", roles=[Role.ADMINISTRATOR]
    )
    user.is_superuser = True
    user.save()
    return user


def test_admin_site_only_after_mfa(client: Client, administrator: User) -> None:
    password_only(client, administrator)
    refused = client.get("/admin/accounts/user/")
    assert refused.status_code == 302 and refused["Location"].startswith("/account/mfa/")
    # The admin site's own rule, whatever the middleware: a verified second factor.
    request = RequestFactory().get("/admin/")
    request.user = administrator
    administrator.is_verified = lambda: False  # type: ignore[attr-defined]
    assert not admin.site.has_permission(request)
    administrator.is_verified = lambda: True  # type: ignore[attr-defined]
    assert admin.site.has_permission(request)

    verified = sign_in(Client(), administrator)
    assert verified.get("/admin/accounts/user/").status_code == 200
    # Devices are not admin pages at all: no secret to read, no silent deletion.
    device = totp_device(administrator)
    assert verified.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").status_code == 404
    assert verified.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/").status_code == 404


def test_an_administrator_resets_a_lost_second_factor(
    client: Client, administrator: User, agent: User
) -> None:
    agents_browser = sign_in(Client(), agent)
    assert agents_browser.get("/cases/").status_code == 200
    admin_browser = sign_in(client, administrator)
    response = admin_browser.post(
        "/admin/accounts/user/",
        {"action": "reset_second_factor", "_selected_action": [agent.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=agent).exists()
    # The agent's session is over; signing in again leads to a fresh enrolment.
    assert agents_browser.get("/cases/").status_code == 302
    assert "mfa.reset_by_administrator" in audit_actions(agent)
    reset = AuditEvent.objects.get(action="mfa.reset_by_administrator")
    assert reset.actor_id == administrator.pk
    enrolment = password_only(Client(), agent).get("/account/mfa/")
    assert "accounts/mfa_enrol.html" in {t.name for t in enrolment.templates}
    new_device = TOTPDevice.objects.get(user=agent)
    assert new_device.confirmed is False  # a new secret, waiting for the first code


def test_an_administrator_cannot_reset_their_own_second_factor(administrator: User) -> None:
    from aftersales.accounts.mfa import mfa_reset_by_administrator
    from aftersales.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        mfa_reset_by_administrator(actor=administrator, user=administrator)
    assert refused.value.code == "own_account"
    assert not AuditEvent.objects.filter(action="mfa.reset_by_administrator").exists()


def test_admin_login_is_the_staff_login(client: Client, agent: User) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/"
    # Signed in without admin rights: refused, not sent round in a loop.
    assert sign_in(client, agent).get("/admin/login/?next=/admin/").status_code == 403


# --- bearer tokens --------------------------------------------------------------------------


def _token(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/auth/token", body, content_type="application/json")


def test_token_needs_the_second_factor(client: Client, agent: User) -> None:
    device = totp_device(agent)
    missing = _token(client, {"username": "agent", "password": PASSWORD})
    assert missing.status_code == 401 and missing.json()["code"] == "mfa_required"
    wrong = _token(client, {"username": "agent", "password": PASSWORD, "otp": "12345x"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_otp"
    assert not ApiToken.objects.exists()
    assert AuditEvent.objects.filter(action="mfa.failed", actor=agent).count() == 1
    ok = _token(client, {"username": "agent", "password": PASSWORD, "otp": totp_code(device)})
    assert ok.status_code == 201
    assert ApiToken.objects.filter(user=agent).count() == 1


def test_token_with_a_recovery_code(client: Client, agent: User) -> None:
    codes = enrol(password_only(Client(), agent), agent)
    ok = _token(client, {"username": "agent", "password": PASSWORD, "otp": codes[0]})
    assert ok.status_code == 201
    again = _token(client, {"username": "agent", "password": PASSWORD, "otp": codes[0]})
    assert again.status_code == 401 and again.json()["code"] == "invalid_otp"


def test_token_for_an_account_without_mfa_says_so(client: Client, agent: User) -> None:
    response = _token(client, {"username": "agent", "password": PASSWORD, "otp": "123456"})
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_required"
    assert response.json()["details"] == {"enrolled": False}


def test_token_endpoint_is_throttled_like_the_login_form(client: Client, agent: User) -> None:
    device = totp_device(agent)
    for _ in range(5):
        assert _token(client, {"username": "agent", "password": "nope"}).status_code == 401
    locked = _token(client, {"username": "agent", "password": PASSWORD, "otp": totp_code(device)})
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts"
    assert locked.json()["details"]["retry_after"] > 0


def test_otp_failures_of_the_token_endpoint_are_throttled(client: Client, agent: User) -> None:
    device = totp_device(agent)
    for _ in range(5):
        wrong = _token(client, {"username": "agent", "password": PASSWORD, "otp": "zzzz"})
        assert wrong.json()["code"] == "invalid_otp"
    body = {"username": "agent", "password": PASSWORD, "otp": totp_code(device)}
    assert _token(client, body).status_code == 429
    assert throttle.throttle_retry_after(scope="mfa", account="agent", ip="127.0.0.1") > 0


# --- changing the second factor -------------------------------------------------------------


def test_regenerating_recovery_codes_needs_the_password_again(client: Client, agent: User) -> None:
    old = enrol(password_only(client, agent), agent)
    response = client.post("/account/mfa/recovery-codes/")
    assert response.status_code == 302
    assert response["Location"] == "/account/reauth/?next=%2Faccount%2Fsecurity%2F"
    assert mfa_recovery_codes_left(agent) == 10

    wrong = client.post("/account/reauth/", {"password": "not-it", "next": "/account/security/"})
    assert wrong.status_code == 401
    ok = client.post("/account/reauth/", {"password": PASSWORD, "next": "/account/security/"})
    assert ok.status_code == 302 and ok["Location"] == "/account/security/"

    new_page = client.post("/account/mfa/recovery-codes/")
    new = re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){5})</code>", new_page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert "mfa.recovery_regenerated" in audit_actions(agent)
    # The old set no longer works, the new one does; this session stays signed in.
    assert client.get("/cases/").status_code == 200
    assert (
        _token(Client(), {"username": "agent", "password": PASSWORD, "otp": old[0]}).json()["code"]
        == "invalid_otp"
    )
    assert (
        _token(Client(), {"username": "agent", "password": PASSWORD, "otp": new[0]}).status_code
        == 201
    )


def test_reauth_counts_for_five_minutes(client: Client, agent: User) -> None:
    enrol(password_only(client, agent), agent)
    client.post("/account/reauth/", {"password": PASSWORD})
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=6)):
        late = client.post("/account/mfa/recovery-codes/")
    assert late.status_code == 302 and late["Location"].startswith("/account/reauth/")


def test_moving_to_a_new_phone_needs_reauth_and_ends_other_sessions(agent: User) -> None:
    here = password_only(Client(), agent)
    enrol(here, agent)
    elsewhere = sign_in(Client(), agent)
    old_device = TOTPDevice.objects.get(user=agent, confirmed=True)

    assert here.get("/account/mfa/replace/")["Location"].startswith("/account/reauth/")
    assert here.post("/account/reauth/", {"password": PASSWORD}).status_code == 302
    page = here.get("/account/mfa/replace/").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret is not None
    # Until the new device is confirmed the old one still signs in.
    assert TOTPDevice.objects.filter(user=agent, confirmed=True).get() == old_device

    done = here.post("/account/mfa/replace/", {"code": code_for_secret(secret.group(1))})
    assert done.status_code == 200 and b"recovery-codes" in done.content
    new_device = TOTPDevice.objects.get(user=agent)
    assert new_device.confirmed and new_device.pk != old_device.pk
    assert audit_actions(agent).count("mfa.reset") == 1
    assert here.get("/cases/").status_code == 200  # this session goes on
    assert elsewhere.get("/cases/")["Location"].startswith("/login/")  # the other one ended


def test_security_page_shows_the_state(client: Client, agent: User) -> None:
    sign_in(client, agent)
    page = client.get("/account/security/").content.decode()
    assert "0 recovery codes left" in page and 'id="mfa-replace"' in page
