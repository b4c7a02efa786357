"""The second sign-in step in a real Chromium: first sign-in enrols an authenticator from the
page (its secret read off the page, as a person types it into an app), the next one asks for
the app's code."""

import base64
import re
import time
from typing import Any

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create, team_create
from aftersales.core.models import AuditEvent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Browser-pass-2026"


def app_code(secret: str, *, step_offset: int = 0) -> str:
    """What an authenticator app holding `secret` shows (now, or a step later)."""
    totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    totp.time = time.time() + 30 * step_offset
    return f"{totp.token():06d}"


def password_step(page: Any, username: str) -> None:
    page.goto("/cases/")
    page.wait_for_url(lambda url: "/login/" in url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/account/mfa/" in url)


def test_enrol_then_sign_in_with_the_app_code(page: Any, browser: Any, live_server: Any) -> None:
    desk = team_create(code="desk-sz", name="深圳受理台", kind="frontline")
    agent = staff_create(
        username="agent",
        password=PASSWORD,
        display_name="李娜",
        roles=[Role.FRONTLINE_AGENT],
        teams=[desk],
    )

    password_step(page, "agent")
    # Locator reads like count() do not wait for the page; expect() retries until it holds.
    expect(page.locator("#mfa-enrol svg")).to_have_count(1)  # the QR code
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret

    page.fill("#mfa-enrol input[name=code]", app_code(secret, step_offset=5))
    page.click("#mfa-enrol button[type=submit]")
    assert "That code is not valid" in page.locator("#mfa-enrol .error").inner_text()

    page.fill("#mfa-enrol input[name=code]", app_code(secret))
    page.click("#mfa-enrol button[type=submit]")
    expect(page.locator("#recovery-codes code")).to_have_count(10)
    codes = page.locator("#recovery-codes code").all_inner_texts()
    page.click("#recovery-codes-done")
    page.wait_for_url(lambda url: url.endswith("/cases/"))
    assert page.locator(".whoami").inner_text() == "李娜"

    # A second browser: password, then the app's next code (this step's was used).
    other = browser.new_context(base_url=live_server.url, locale="en-US")
    tab = other.new_page()
    password_step(tab, "agent")
    expect(tab.locator("#mfa-verify")).to_have_count(1)
    tab.fill("#mfa-verify input[name=code]", app_code(secret, step_offset=1))
    tab.click("#mfa-verify button[type=submit]")
    tab.wait_for_url(lambda url: url.endswith("/cases/"))
    other.close()

    # A third with a recovery code.
    third = browser.new_context(base_url=live_server.url, locale="en-US")
    tab = third.new_page()
    password_step(tab, "agent")
    tab.fill("#mfa-verify input[name=code]", codes[0])
    tab.click("#mfa-verify button[type=submit]")
    tab.wait_for_url(lambda url: url.endswith("/cases/"))
    assert "9 left" in tab.locator(".messages").inner_text()
    third.close()

    actions = list(
        AuditEvent.objects.filter(entity="user", entity_id=agent.pk).values_list(
            "action", flat=True
        )
    )
    assert actions.count("mfa.enrolled") == 1 and actions.count("mfa.failed") == 1
