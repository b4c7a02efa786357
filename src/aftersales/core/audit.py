"""The audit log (审计日志): what is recorded about access, its hash chain's verification, and
the supervisor's search.

What is recorded (OWASP ASVS V16), each through `core.services.audit_record`:
- sign-in, sign-out and failed sign-in (the username tried only as a keyed hash);
- refusals: an authenticated request answered 403, or 404 on a URL naming a record;
- every view of personal data (customer and case pages and API details, caller look-ups,
  timelines); reveals of full contacts are recorded by `customers.services.contact_reveal`;
- every change: the domain services write their own rows with before/after values, case
  events are mirrored (`case.<kind>`), admin-site changes are mirrored from `LogEntry`;
- approvals: a service that approves anything (compensation, write-offs) must call
  `audit_record` itself, in its own transaction, naming the approver and what was approved;
- every search of the audit log itself.

Who may read it: `core.view_auditevent` (supervisors, regional managers, managers,
administrators). Managers and administrators (scope "all") see every row; a supervisor or a
regional manager sees the rows of the staff in the teams of their scope (led teams, or every
team of their region), their own rows, and the rows about cases in their case scope. So the
log cannot be used to learn about records or people outside one's scope, which the scoped
queries hide everywhere else. The search is itself audited, so reading the log leaves a trace.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm

from .crypto import blind_index
from .errors import ApplicationError
from .models import AUDIT_GENESIS, AuditChainHead, AuditEvent
from .services import audit_record

USERNAME_HASH_PURPOSE = "audit-login-username"
ADMIN_ACTIONS = {ADDITION: "admin.added", CHANGE: "admin.changed", DELETION: "admin.deleted"}


def request_ip(request: HttpRequest) -> str | None:
    """The client's address as the throttle sees it (`accounts.throttle.client_ip`: REMOTE_ADDR,
    or the right-most untrusted X-Forwarded-For entry behind a `TRUSTED_PROXIES` peer)."""
    from aftersales.accounts.throttle import client_ip

    return client_ip(request) or None


def username_hash(username: str) -> str:
    """Keyed hash of a username as typed (trimmed, lower-case): failed sign-ins are findable by
    the name tried without the log holding what may be a mistyped password."""
    return blind_index(username.strip().lower(), purpose=USERNAME_HASH_PURPOSE)


# --- what is recorded ----------------------------------------------------------------------


def personal_data_viewed(
    *,
    actor: User,
    customer_id: int | None,
    entity: str,
    entity_id: int,
    via: str,
    ip: str | None = None,
) -> AuditEvent:
    """Record that `actor` was shown a customer's personal data (`via`: which page or endpoint)."""
    return audit_record(
        actor=actor,
        action="personal_data.viewed",
        entity=entity,
        entity_id=entity_id,
        customer_id=customer_id,
        data={"via": via},
        ip=ip,
    )


def login_succeeded(*, user: User, ip: str | None) -> AuditEvent:
    """Record a sign-in."""
    return audit_record(actor=user, action="auth.login", entity="user", entity_id=user.pk, ip=ip)


def logout_recorded(*, user: User, ip: str | None) -> AuditEvent:
    """Record a sign-out."""
    return audit_record(actor=user, action="auth.logout", entity="user", entity_id=user.pk, ip=ip)


def login_failed(*, username: str, ip: str | None) -> AuditEvent:
    """Record a failed sign-in: the account it aimed at (0 if none has that name) and the keyed
    hash of the name tried, never the name itself."""
    user_id = (
        User.objects.filter(username__iexact=username.strip()).values_list("pk", flat=True).first()
    )
    return audit_record(
        actor=None,
        action="auth.login_failed",
        entity="user",
        entity_id=user_id or 0,
        data={"username_hash": username_hash(username)},
        ip=ip,
    )


def access_denied(
    *, actor: User, method: str, path: str, status: int, view: str, ip: str | None
) -> AuditEvent:
    """Record a refused request (403, or 404 on a record's URL); the path has no query string.

    Control characters (a probe may send `%00`) are dropped: PostgreSQL's JSON cannot hold NUL.
    """
    printable = "".join(ch for ch in path[:500] if ch >= " " and ch != "\x7f")
    return audit_record(
        actor=actor,
        action="access.denied",
        entity="url",
        entity_id=0,
        data={"method": method, "path": printable, "status": status, "view": view},
        ip=ip,
    )


def admin_change_mirrored(*, entry: LogEntry) -> AuditEvent:
    """Copy an admin-site change into the audit log. The object's display text is left out (it
    may be a customer's name); the change message names the fields changed, not their values."""
    content_type = entry.content_type
    app_label = content_type.app_label if content_type else ""
    model = content_type.model if content_type else ""
    object_id = str(entry.object_id or "")
    return audit_record(
        actor=entry.user,
        action=ADMIN_ACTIONS.get(entry.action_flag, "admin.changed"),
        entity=model[:32] or "admin",
        entity_id=int(object_id) if object_id.isdigit() else 0,
        customer_id=int(object_id)
        if (app_label, model) == ("customers", "customer") and object_id.isdigit()
        else None,
        data={
            "app": app_label,
            "model": model,
            "object_id": object_id[:100],
            "change_message": entry.change_message,
        },
    )


# --- the supervisor's search ---------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the audit search narrows by; empty values do not narrow."""

    person: str = ""  # username of the actor (also finds failed sign-ins with that name)
    customer: str = ""  # customer number
    entity: str = ""
    entity_id: int | None = None
    case: str = ""  # case number: rows about that case
    action: str = ""  # prefix, e.g. "auth." or "personal_data."
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def recorded(self) -> dict[str, Any]:
        """The filters as the audit row of the search stores them."""
        return {
            k: v.isoformat() if isinstance(v, dt.datetime) else v
            for k, v in asdict(self).items()
            if v not in ("", None)
        }


def audit_search(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Audit rows matching every given filter, newest first."""
    from aftersales.cases.models import Case
    from aftersales.customers.models import Customer

    rows = AuditEvent.objects.select_related("actor").order_by("-occurred_at", "-id")
    if filters.person:
        rows = rows.filter(
            Q(actor__username=filters.person)
            | Q(action="auth.login_failed", data__username_hash=username_hash(filters.person))
        )
    if filters.customer:
        customers = Customer.objects.filter(number=filters.customer.strip().upper())
        rows = rows.filter(customer_id__in=customers.values("pk"))
    if filters.entity:
        rows = rows.filter(entity=filters.entity)
    if filters.entity_id is not None:
        rows = rows.filter(entity_id=filters.entity_id)
    if filters.case:
        cases = Case.objects.filter(number=filters.case.strip().upper())
        rows = rows.filter(entity="case", entity_id__in=cases.values("pk"))
    if filters.action:
        rows = rows.filter(action__startswith=filters.action)
    if filters.since is not None:
        rows = rows.filter(occurred_at__gte=_utc(filters.since, "since"))
    if filters.until is not None:
        rows = rows.filter(occurred_at__lt=_utc(filters.until, "until"))
    return rows


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    """A bound in UTC: PostgreSQL refuses offsets past ±15:59, and the year-1 or year-9999
    edges with an offset fall outside what a datetime can hold."""
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ApplicationError(
            "invalid_input",
            _("The time is out of range."),
            status=422,
            details={name: ["out of range"]},
        ) from exc


def audit_scope(actor: User) -> Q | None:
    """The rows `actor` may read (None: all of them); see the module docstring."""
    from aftersales.accounts.roles import Scope
    from aftersales.accounts.selectors import (
        user_led_team_ids,
        user_region_team_ids,
        user_scope,
        user_team_ids,
    )
    from aftersales.cases.selectors import case_queryset_for

    scope = user_scope(actor)
    if scope == Scope.ALL:
        return None
    if scope == Scope.REGION:
        team_ids = user_region_team_ids(actor)
    elif scope == Scope.LED_TEAMS:
        team_ids = user_led_team_ids(actor)
    else:
        team_ids = user_team_ids(actor)
    staff = User.objects.filter(memberships__team_id__in=team_ids).values("pk")
    cases = case_queryset_for(actor).values("pk")
    return Q(actor=actor) | Q(actor_id__in=staff) | Q(entity="case", entity_id__in=cases)


def audit_log_search(
    *, actor: User, filters: AuditFilters, via: str, ip: str | None = None
) -> QuerySet[AuditEvent]:
    """The audit search for someone allowed to read the log, within what their scope may
    read; the search itself is recorded."""
    require_perm(actor, "core.view_auditevent")
    rows = audit_search(filters)  # refuses bad bounds before anything is recorded
    audit_record(
        actor=actor,
        action="audit.searched",
        entity="audit",
        entity_id=0,
        data={"via": via, "filters": filters.recorded()},
        ip=ip,
    )
    visible = audit_scope(actor)
    return rows if visible is None else rows.filter(visible)


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """The first row at which the chain does not hold."""

    event_id: int
    occurred_at: dt.datetime | None
    action: str
    # "altered": the row's fields do not give its hash; "broken_link": its predecessor is not
    # the previous row (rows missing or inserted before it); "tail_missing": rows after it that
    # the chain head names are gone.
    reason: str


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_hash: str
    broken: ChainBreak | None


def audit_chain_verify(*, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the chain in id order, recompute every row's hash and check every link.

    Rows are streamed (constant memory). Only rows up to the head read at the start are
    checked, so appends during the walk neither break nor stretch it. `progress(n)` is called
    with the number of rows checked since the last call.
    """
    head = AuditChainHead.objects.filter(pk=AuditChainHead.SINGLETON).first()
    rows = AuditEvent.objects.order_by("id")
    if head is not None and head.last_event_id is not None:
        rows = rows.filter(id__lte=head.last_event_id)
    expected_prev, count, last = AUDIT_GENESIS, 0, None
    pending = 0
    for event in rows.iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return ChainReport(count, expected_prev, _break(event, "broken_link"))
        if event.compute_hash() != event.row_hash:
            return ChainReport(count, expected_prev, _break(event, "altered"))
        expected_prev, count, last = event.row_hash, count + 1, event
        pending += 1
        if progress is not None and pending >= 1000:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)
    head_id = head.last_event_id if head is not None else None
    head_hash = head.last_hash if head is not None else AUDIT_GENESIS
    last_id = last.pk if last is not None else None
    if head_id != last_id or head_hash != expected_prev:
        if last is None:
            return ChainReport(
                count, expected_prev, ChainBreak(head_id or 0, None, "", "tail_missing")
            )
        return ChainReport(count, expected_prev, _break(last, "tail_missing"))
    return ChainReport(count, expected_prev, None)


def _break(event: AuditEvent, reason: str) -> ChainBreak:
    return ChainBreak(event.pk, event.occurred_at, event.action, reason)


# --- database privileges -----------------------------------------------------------------------

# Tables the application role may only read and append to; the chain head is also updated.
APPEND_ONLY_TABLES = {AuditEvent._meta.db_table: "SELECT, INSERT"}
CHAIN_HEAD_TABLES = {AuditChainHead._meta.db_table: "SELECT, INSERT, UPDATE"}
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def db_grant_statements(*, role: str) -> list[str]:
    """The PostgreSQL statements that give a separate application role what it needs and no
    more: SELECT, INSERT, UPDATE, DELETE on every table of the schema, only SELECT and INSERT on
    the audit log (and UPDATE on its chain head), never TRUNCATE, never DDL. Run them as the
    owner of the tables after every `migrate` (new tables need their grants too)."""
    if not ROLE_NAME.match(role):
        raise ApplicationError(
            "invalid_role", "A role name is lower-case letters, digits and underscores."
        )
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor, include_views=False))
    who = quote(role)
    statements = [f"GRANT USAGE ON SCHEMA public TO {who}"]
    for table in tables:
        privileges = {**APPEND_ONLY_TABLES, **CHAIN_HEAD_TABLES}.get(
            table, "SELECT, INSERT, UPDATE, DELETE"
        )
        if table == "django_migrations":
            privileges = "SELECT"  # migrations run as the owner, never as the application
        statements.append(f"REVOKE ALL ON TABLE {quote(table)} FROM {who}")
        statements.append(f"GRANT {privileges} ON TABLE {quote(table)} TO {who}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    return statements
