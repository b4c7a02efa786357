"""Throttling and lockout (accounts/throttle.py): the policy, the sign-in page, the look-ups."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client, RequestFactory, override_settings

from aftersales.accounts.models import ThrottleCounter, User
from aftersales.accounts.throttle import (
    client_ip,
    throttle_failure,
    throttle_guard,
    throttle_prune,
    throttle_retry_after,
    throttle_success,
)
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from tests.auth import sign_in
from tests.concurrency import run_together
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
IP = "203.0.113.7"
OTHER_IP = "198.51.100.9"


def fail(n: int, *, account: str = "alice", ip: str = IP, scope: str = "login") -> None:
    for _ in range(n):
        throttle_failure(scope=scope, account=account, ip=ip)


def locked_for(*, account: str = "alice", ip: str = IP, scope: str = "login") -> int:
    """Seconds the attempt is refused for (0: let through), as the guard answers it."""
    try:
        throttle_guard(scope=scope, account=account, ip=ip)
    except ApplicationError as exc:
        assert exc.code == "too_many_attempts" and exc.status_code == 429
        assert "Try again in" in exc.message
        return int(exc.details["retry_after"])
    return 0


def test_pair_is_locked_after_five_failures_in_fifteen_minutes() -> None:
    with clock.frozen_at(T0):
        fail(4)
        assert locked_for() == 0
        fail(1)
        assert locked_for() == 60
    lock = AuditEvent.objects.get(action="auth.locked_out")
    assert lock.data["scope"] == "login" and lock.data["kind"] == "pair"
    assert lock.data["seconds"] == 60 and str(lock.ip) == IP


def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    for i in range(10):
        with clock.frozen_at(T0 + dt.timedelta(minutes=4 * i)):
            fail(1)
            assert locked_for() == 0


def test_each_lock_in_a_row_lasts_twice_as_long_up_to_an_hour() -> None:
    now = T0
    with clock.frozen_at(now):
        fail(5)
        assert locked_for() == 60
    seen = []
    for _ in range(9):
        now += dt.timedelta(seconds=locked_for_at(now))
        with clock.frozen_at(now):
            assert locked_for() == 0  # the lock has ended: one more try
            fail(1)
            seen.append(locked_for())
    assert seen[:6] == [120, 240, 480, 960, 1920, 3600]
    assert set(seen[6:]) == {3600}


def locked_for_at(moment: dt.datetime) -> int:
    with clock.frozen_at(moment):
        return locked_for()


def test_expiry_lets_the_real_user_in_and_success_clears_the_pair() -> None:
    with clock.frozen_at(T0):
        fail(5)
        assert locked_for() == 60
    with clock.frozen_at(T0 + dt.timedelta(seconds=60)):
        assert locked_for() == 0
        throttle_success(scope="login", account="alice", ip=IP)
        fail(4)  # a fresh count: four more mistakes are allowed
        assert locked_for() == 0
        fail(1)
        assert locked_for() == 60  # and the back-off started again from the first step


def test_another_address_is_unaffected_by_a_locked_pair() -> None:
    with clock.frozen_at(T0):
        fail(5, ip=IP)
        assert locked_for(ip=IP) == 60
        assert locked_for(ip=OTHER_IP) == 0
        assert locked_for(account="bob", ip=IP) == 0


def test_account_wide_limit_locks_every_new_address_but_not_a_trusted_one() -> None:
    with clock.frozen_at(T0 - dt.timedelta(days=1)):
        throttle_success(scope="login", account="alice", ip=OTHER_IP)  # alice's office
    with clock.frozen_at(T0):
        for i in range(20):  # a botnet: four guesses from each of five addresses
            fail(4, ip=f"192.0.2.{i // 4 + 1}")
        assert locked_for(ip="192.0.2.200") == 60  # a new address: the account is locked
        assert locked_for(ip=OTHER_IP) == 0  # alice at her usual address still gets in
    with clock.frozen_at(T0 + dt.timedelta(seconds=60)):
        assert locked_for(ip="192.0.2.200") == 0  # and the broad lock is temporary


def test_address_wide_limit_locks_the_address_for_every_account() -> None:
    with clock.frozen_at(T0):
        for i in range(50):  # spraying: one guess at each of fifty accounts
            fail(1, account=f"user{i}")
        assert locked_for(account="someone-else") == 60
        assert locked_for(account="someone-else", ip=OTHER_IP) == 0


def test_broad_locks_never_last_longer_than_the_cap() -> None:
    now = T0
    longest = 0
    for _ in range(12):  # an attacker who keeps coming back the moment each lock ends
        with clock.frozen_at(now):
            fail(20, account="alice", ip="192.0.2.1")
            wait = locked_for(ip="192.0.2.99")
        longest = max(longest, wait)
        now += dt.timedelta(seconds=wait)
    assert longest == 3600
    with clock.frozen_at(now):
        assert locked_for(ip="192.0.2.99") == 0


def test_the_table_holds_neither_usernames_nor_addresses() -> None:
    with clock.frozen_at(T0):
        fail(5, account="alice@example.com", ip=IP)
    rows = list(ThrottleCounter.objects.values_list("key", flat=True))
    assert len(rows) == 3
    assert all("alice" not in key and IP not in key for key in rows)


def test_accounts_are_counted_without_case() -> None:
    with clock.frozen_at(T0):
        fail(3, account="Alice")
        fail(2, account=" alice ")
        assert locked_for(account="ALICE") == 60


def test_old_counters_are_pruned_but_recent_trust_is_kept() -> None:
    with clock.frozen_at(T0):
        fail(2, account="mallory", ip="192.0.2.5")
        throttle_success(scope="login", account="alice", ip=IP)
    with clock.frozen_at(T0 + dt.timedelta(days=3)):
        removed = throttle_prune()
    assert removed == 3  # mallory's pair, account and address counters
    assert ThrottleCounter.objects.count() == 1  # alice's trusted pair


def test_unknown_scope_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        throttle_guard(scope="nonsense", account="a", ip=IP)


# --- the client address --------------------------------------------------------------------


def test_client_address_is_remote_addr_and_forwarded_for_is_ignored_by_default() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.0.0.5"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    factory = RequestFactory()
    behind_proxy = factory.get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7, 10.0.0.9"
    )
    # The right-most address that is not one of our proxies; the client wrote the rest.
    assert client_ip(behind_proxy) == "203.0.113.7"
    direct = factory.get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(direct) == "198.51.100.9"
    assert client_ip(factory.get("/", REMOTE_ADDR="not-an-ip")) == ""


# --- the sign-in page ----------------------------------------------------------------------


def _post_login(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def test_sign_in_is_locked_after_five_wrong_passwords_and_answers_429(agent: User) -> None:
    client = Client()
    with clock.frozen_at(T0):
        for _ in range(5):
            response = _post_login(client, "agent", "wrong password")
            assert response.status_code == 401
            assert "Wrong username or password." in response.content.decode()
        # Locked: even the right password is not checked until the lock ends.
        response = _post_login(client, "agent", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many attempts. Try again in 1 minute." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    with clock.frozen_at(T0 + dt.timedelta(minutes=1)):
        response = _post_login(client, "agent", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(agent.pk)


def test_a_correct_sign_in_clears_the_count(agent: User) -> None:
    client = Client()
    with clock.frozen_at(T0):
        for _ in range(4):
            assert _post_login(client, "agent", "wrong password").status_code == 401
        assert _post_login(client, "agent", PASSWORD).status_code == 302
        client.logout()
        for _ in range(4):
            assert _post_login(client, "agent", "wrong password").status_code == 401
        assert _post_login(client, "agent", PASSWORD).status_code == 302


def test_unknown_usernames_are_throttled_like_real_ones(db: Any) -> None:
    client = Client()
    with clock.frozen_at(T0):
        for _ in range(5):
            assert _post_login(client, "nobody", "guess").status_code == 401
        assert _post_login(client, "nobody", "guess").status_code == 429


# --- look-ups ------------------------------------------------------------------------------

FEW_LOOKUPS = {
    "pair": (3, 900),
    "account": (10, 3600),
    "address": None,
    "lock": 300,
    "lock_max": 3600,
}


def _limits(**scopes: dict[str, object]) -> dict[str, dict[str, object]]:
    from django.conf import settings

    return {**settings.THROTTLE_LIMITS, **scopes}


def test_caller_lookup_api_is_throttled_per_staff_account(
    agent: User, api: Callable[[User], Any]
) -> None:
    client = api(agent)
    with override_settings(THROTTLE_LIMITS=_limits(lookup=FEW_LOOKUPS)), clock.frozen_at(T0):
        for _ in range(3):
            assert client.post("/customers/lookup", {"phone": "13800138000"}).status_code == 200
        response = client.post("/customers/lookup", {"phone": "13800138000"})
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_attempts" and body["details"]["retry_after"] == 300


def test_caller_lookup_page_is_throttled(agent: User, other_agent: User) -> None:
    client = sign_in(Client(), agent)
    with override_settings(THROTTLE_LIMITS=_limits(lookup=FEW_LOOKUPS)), clock.frozen_at(T0):
        for _ in range(3):
            assert _look_up(client).status_code == 200
        response = _look_up(client)
        assert response.status_code == 429
        assert "Too many attempts" in response.content.decode()
        # Another member of staff at the same desk (same address) is not slowed down.
        assert _look_up(sign_in(Client(), other_agent)).status_code == 200


def _look_up(client: Client) -> Any:
    return client.post("/customers/call/", {"phone": "13800138000"}, follow=True)


# --- under real concurrency -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_concurrent_failures_are_all_counted() -> None:
    def one() -> None:
        with clock.frozen_at(T0):
            throttle_failure(scope="login", account="alice", ip=IP)

    run_together([one] * 12)
    pair = ThrottleCounter.objects.get(kind="pair")
    assert pair.failures == 12
    assert ThrottleCounter.objects.get(kind="account").failures == 12
    with clock.frozen_at(T0):
        assert throttle_retry_after(scope="login", account="alice", ip=IP) == 60
