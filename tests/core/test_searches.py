"""aftersales.core.searches: search terms live in the session, encrypted; URLs carry an id."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from django.test import RequestFactory

from aftersales.core.searches import KEEP, SESSION_KEY, search_store, search_term

pytestmark = pytest.mark.django_db


def _request() -> HttpRequest:
    request = RequestFactory().post("/")
    request.session = SessionStore()
    return request


def test_a_stored_term_comes_back_by_its_id_and_kind_only() -> None:
    request = _request()

    search_id = search_store(request, kind="phone", term="+8613800138000")

    assert search_term(request, search_id, kind="phone") == "+8613800138000"
    assert search_term(request, search_id, kind="customers") == ""  # another page's search
    assert search_term(request, "made-up", kind="phone") == ""
    assert search_term(request, None, kind="phone") == ""
    assert "13800138000" not in search_id


def test_the_session_holds_the_term_encrypted() -> None:
    request = _request()
    search_store(request, kind="phone", term="+8613800138000")
    request.session.save()

    stored = SessionStore(session_key=request.session.session_key).load()
    encoded = request.session.encode(stored)

    assert "13800138000" not in str(stored[SESSION_KEY])
    assert "13800138000" not in encoded


def test_only_the_newest_searches_are_kept() -> None:
    request = _request()
    ids = [search_store(request, kind="customers", term=f"王{i}") for i in range(KEEP + 5)]

    assert search_term(request, ids[0], kind="customers") == ""
    assert search_term(request, ids[-1], kind="customers") == f"王{KEEP + 4}"
    assert len(request.session[SESSION_KEY]) == KEEP
