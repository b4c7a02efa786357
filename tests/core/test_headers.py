"""Security headers on pages, API responses and static files."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.core.middleware import CONTENT_SECURITY_POLICY
from tests.auth import sign_in

COMMON = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _assert_common(response: Any) -> None:
    for header, value in COMMON.items():
        assert response[header] == value, header
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in permissions


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_pages_of_a_signed_in_user_are_not_stored(client: Client, agent: User) -> None:
    sign_in(client, agent)
    response = client.get("/cases/")
    assert response.status_code == 200
    _assert_common(response)
    assert response["Cache-Control"] == "no-store"
    assert response["X-Frame-Options"] == "DENY"


def test_sign_in_page_has_the_headers(client: Client, db: Any) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    _assert_common(response)


def test_api_responses_are_not_stored(api: Callable[[User], Any], agent: User) -> None:
    response = api(agent).get("/cases")
    assert response.status_code == 200
    _assert_common(response)
    assert response["Cache-Control"] == "no-store"
    refused = api(agent).get("/cases/SR0000000000000")
    assert refused.status_code == 404
    _assert_common(refused)
    assert refused["Cache-Control"] == "no-store"


def test_an_unauthenticated_api_call_gets_the_headers(client: Client, db: Any) -> None:
    response = client.get("/api/v1/cases")
    assert response.status_code == 401
    _assert_common(response)


@pytest.fixture
def static_client(settings: Any) -> Client:
    # WhiteNoise serves from the finders here, as in development; a fresh client builds the
    # middleware chain with these settings.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return Client()


def test_static_files_keep_their_caching_even_for_a_signed_in_user(
    static_client: Client, agent: User
) -> None:
    sign_in(static_client, agent)
    response = static_client.get("/static/web/app.js")
    assert response.status_code == 200
    _assert_common(response)
    assert "no-store" not in response.get("Cache-Control", "")
