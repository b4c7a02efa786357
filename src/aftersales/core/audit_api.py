"""JSON API of the audit log, mounted at /api/v1/audit (needs `core.view_auditevent`).

Every search is itself recorded in the log.
"""

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field, StringConstraints

from aftersales.accounts.permissions import request_user

from .audit import AuditFilters, audit_log_search
from .schemas import DB_INT_MAX, PageOf100

router = Router(tags=["audit"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=150)]


class AuditQuery(Schema):
    person: Text = Field("", description="Username of the actor; also finds failed sign-ins")
    customer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = Field(
        "", description="Customer number"
    )
    case: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = Field(
        "", description="Case number: rows about that case"
    )
    entity: Annotated[str, StringConstraints(pattern=r"^[a-z_]{0,32}$")] = Field(
        "", description="Object type, e.g. customer, case, user, unit"
    )
    entity_id: Annotated[int, Field(ge=0, le=DB_INT_MAX)] | None = None
    action: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = Field(
        "", description="Action prefix, e.g. `auth.` or `personal_data.`"
    )
    since: dt.datetime | None = Field(None, description="From this time (inclusive)")
    until: dt.datetime | None = Field(None, description="Up to this time (exclusive)")


class AuditEventOut(Schema):
    id: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor: str | None = Field(None, description="The actor's username")
    action: str
    entity: str
    entity_id: int
    customer_id: int | None
    ip: str | None
    data: dict[str, Any]
    row_hash: str

    @staticmethod
    def resolve_actor(obj: Any) -> str | None:
        return obj.actor.username if obj.actor_id else None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


@router.get(
    "",
    response=list[AuditEventOut],
    operation_id="audit_search",
    summary="Search the audit log (newest first)",
)
@paginate(PageOf100)
def audit_events(request: HttpRequest, filters: Query[AuditQuery]) -> Any:
    """Rows matching every given filter; 403 without `core.view_auditevent`."""
    return audit_log_search(
        actor=request_user(request),
        filters=AuditFilters(
            person=filters.person,
            customer=filters.customer,
            case=filters.case,
            entity=filters.entity,
            entity_id=filters.entity_id,
            action=filters.action,
            since=_aware(filters.since),
            until=_aware(filters.until),
        ),
        via="audit.api",
    )
