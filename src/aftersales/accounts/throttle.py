"""Throttling and lockout of guessable attempts: sign-in, second factor, password reset, look-ups.

Failures are counted in the database (`ThrottleCounter`), so every web process and worker sees
the same counts. Three keys per attempt, each with its own limit (settings `THROTTLE_LIMITS`):

- the pair (account, address): a person mistyping, or one attacker at one account;
- the account from any address: a distributed guess at one account;
- the address for any account: one machine spraying many accounts.

Reaching a limit locks that key for `lock` seconds. Until a quiet spell (`lock_max` without a
failure after the last lock ended), every further failure locks it again for twice as long, up
to `lock_max`. Locks always end, and the broad locks (account, address)
never bind an address the account signed in from recently, so an attacker can delay a real user
but not lock them out. A success clears the pair. Accounts and addresses are stored only as
keyed hashes (blind index, purpose "throttle").
"""

import datetime as dt
import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import ngettext

from aftersales.core import clock
from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.core.services import audit_record

from .models import ThrottleCounter

Kind = ThrottleCounter.Kind
# Rows are always locked in this order, so two attempts can never deadlock.
KINDS: tuple[str, ...] = (Kind.PAIR, Kind.ACCOUNT, Kind.ADDRESS)


@dataclass(frozen=True)
class Tier:
    limit: int
    window: dt.timedelta


@dataclass(frozen=True)
class Policy:
    tiers: dict[str, Tier]  # by kind; a kind not listed is not counted
    lock: dt.timedelta
    lock_max: dt.timedelta


def policy(scope: str) -> Policy:
    """The limits of `scope` from the THROTTLE_LIMITS setting."""
    raw: dict[str, Any] = settings.THROTTLE_LIMITS[scope]
    tiers = {
        kind: Tier(limit=int(raw[kind][0]), window=dt.timedelta(seconds=int(raw[kind][1])))
        for kind in KINDS
        if raw.get(kind)
    }
    return Policy(
        tiers=tiers,
        lock=dt.timedelta(seconds=int(raw["lock"])),
        lock_max=dt.timedelta(seconds=int(raw["lock_max"])),
    )


def _keys(account: str, ip: str) -> dict[str, str]:
    # Usernames and e-mail addresses are compared without case, as people type them.
    who = account.strip().lower()
    return {
        Kind.PAIR: blind_index(f"pair\x00{who}\x00{ip}", purpose="throttle"),
        Kind.ACCOUNT: blind_index(f"account\x00{who}", purpose="throttle"),
        Kind.ADDRESS: blind_index(f"address\x00{ip}", purpose="throttle"),
    }


def _trusted(pair: ThrottleCounter | None, now: dt.datetime) -> bool:
    """The account succeeded from this address recently: broad locks do not bind it."""
    if pair is None or pair.last_success_at is None:
        return False
    return now - pair.last_success_at < dt.timedelta(seconds=settings.THROTTLE_TRUSTED_SECONDS)


def throttle_retry_after(*, scope: str, account: str, ip: str) -> int:
    """Seconds until an attempt of `account` from `ip` is allowed again (0: allowed now)."""
    now = clock.now()
    keys = _keys(account, ip)
    kinds = policy(scope).tiers.keys()
    rows = {
        row.kind: row
        for row in ThrottleCounter.objects.filter(
            scope=scope, kind__in=kinds, key__in=[keys[k] for k in kinds]
        )
        if row.key == keys[row.kind]
    }
    pair = rows.get(Kind.PAIR)
    trusted = _trusted(pair, now)
    until = [
        row.locked_until
        for kind, row in rows.items()
        if row.locked_until is not None
        and row.locked_until > now
        and (kind == Kind.PAIR or not trusted)
    ]
    if not until:
        return 0
    return math.ceil((max(until) - now).total_seconds())


def throttle_guard(*, scope: str, account: str, ip: str) -> None:
    """Refuse with 429 `too_many_attempts` while `account` from `ip` is locked in `scope`."""
    retry_after = throttle_retry_after(scope=scope, account=account, ip=ip)
    if retry_after:
        minutes = max(1, math.ceil(retry_after / 60))
        raise ApplicationError(
            "too_many_attempts",
            ngettext(
                "Too many attempts. Try again in %(minutes)d minute.",
                "Too many attempts. Try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes},
            status=429,
            details={"retry_after": retry_after},
        )


def _row(scope: str, kind: str, key: str, now: dt.datetime) -> ThrottleCounter:
    """The counter, created if missing and locked to the end of the transaction."""
    ThrottleCounter.objects.bulk_create(
        [ThrottleCounter(scope=scope, kind=kind, key=key, window_started_at=now, touched_at=now)],
        ignore_conflicts=True,
    )
    return ThrottleCounter.objects.select_for_update().get(scope=scope, kind=kind, key=key)


def throttle_failure(*, scope: str, account: str, ip: str) -> None:
    """Count a failed attempt; reaching a limit locks that key and writes `auth.locked_out`."""
    pol = policy(scope)
    keys = _keys(account, ip)
    now = clock.now()
    with transaction.atomic():
        for kind in KINDS:
            tier = pol.tiers.get(kind)
            if tier is None:
                continue
            row = _row(scope, kind, keys[kind], now)
            if row.locked_until is not None and now >= row.locked_until + pol.lock_max:
                row.lockouts = 0  # a quiet spell after the last lock: start gently again
            if now - row.window_started_at >= tier.window:
                row.failures = 0
                row.window_started_at = now
            row.failures += 1
            row.touched_at = now
            locked_now = row.locked_until is not None and row.locked_until > now
            # Once locked, every failure before a quiet spell locks again, for twice as long.
            backing_off = row.lockouts > 0
            if not locked_now and (row.failures >= tier.limit or backing_off):
                duration = min(pol.lock * 2 ** min(row.lockouts, 20), pol.lock_max)
                row.locked_until = now + duration
                row.lockouts += 1
                audit_record(
                    actor=None,
                    action="auth.locked_out",
                    entity="throttle",
                    entity_id=row.pk,
                    data={
                        "scope": scope,
                        "kind": kind,
                        "key": row.key,
                        "failures": row.failures,
                        "seconds": int(duration.total_seconds()),
                    },
                    ip=ip or None,
                )
            row.save()


def throttle_success(*, scope: str, account: str, ip: str) -> None:
    """A successful attempt clears the pair and marks the address as trusted for the account."""
    if Kind.PAIR not in policy(scope).tiers:
        return
    now = clock.now()
    with transaction.atomic():
        row = _row(scope, Kind.PAIR, _keys(account, ip)[Kind.PAIR], now)
        row.failures = 0
        row.lockouts = 0
        row.locked_until = None
        row.window_started_at = now
        row.last_success_at = now
        row.touched_at = now
        row.save()


def throttle_attempt(*, scope: str, account: str, ip: str) -> None:
    """Guard, then count this attempt: for scopes where every use counts (caller look-ups)."""
    throttle_guard(scope=scope, account=account, ip=ip)
    throttle_failure(scope=scope, account=account, ip=ip)


def throttle_lookup(request: HttpRequest, *, user_id: int) -> None:
    """Count one look-up of personal data by a member of staff (caller look-up, search).

    Every look-up counts, found or not: a scraping account is slowed to a human's pace,
    whatever address it comes from. Raises 429 `too_many_attempts` when over the limit.
    """
    throttle_attempt(scope="lookup", account=f"staff:{user_id}", ip=client_ip(request))


def throttle_prune() -> int:
    """Delete counters untouched for THROTTLE_RETENTION_SECONDS; returns how many went.

    Rows of pairs that succeeded recently are kept while they still make the address trusted.
    """
    now = clock.now()
    cutoff = now - dt.timedelta(seconds=settings.THROTTLE_RETENTION_SECONDS)
    trusted_since = now - dt.timedelta(seconds=settings.THROTTLE_TRUSTED_SECONDS)
    deleted, _counts = (
        ThrottleCounter.objects.filter(touched_at__lt=cutoff)
        .exclude(last_success_at__gte=trusted_since)
        .exclude(locked_until__gt=now)
        .delete()
    )
    return deleted


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted_proxy(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    for entry in settings.TRUSTED_PROXIES:
        try:
            if address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, which the reverse proxy in front must set.

    X-Forwarded-For is believed only when the direct peer is one of TRUSTED_PROXIES; then the
    right-most address that is not itself a trusted proxy is the client (the entries to its
    left are whatever the client chose to send). "" when there is no valid address.
    """
    peer = _ip(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return ""
    if settings.TRUSTED_PROXIES and _is_trusted_proxy(peer):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        for entry in reversed([e for e in forwarded.split(",") if e.strip()]):
            address = _ip(entry)
            if address is None:
                break
            if not _is_trusted_proxy(address):
                return str(address)
    return str(peer)
