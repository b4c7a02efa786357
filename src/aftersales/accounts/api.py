"""Authentication endpoints (a bearer token, who am I), one's own availability, and absences."""

import datetime as dt
from typing import Any, Literal

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.schemas import Offset, RecordId, StrictIn

from .mfa import mfa_is_enrolled, mfa_verify
from .models import Absence, User
from .permissions import request_user, require_perm
from .selectors import (
    absences_visible_to,
    user_roles,
    user_scope,
    user_team_ids,
    user_unavailable_reason,
)
from .services import absence_cancel, absence_record, api_token_create, availability_set
from .throttle import client_ip, throttle_failure, throttle_guard, throttle_success

router = Router(tags=["auth"])


class TokenIn(StrictIn):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=200)
    otp: str = Field(
        "",
        max_length=64,
        description="The account's current authenticator code, or one of its recovery codes",
    )
    name: str = Field("api", max_length=100)


class TokenOut(Schema):
    token: str
    name: str


class MeOut(Schema):
    id: int
    username: str
    name: str
    roles: list[str]
    scope: str
    team_ids: list[int]


@router.post("/token", auth=None, response={201: TokenOut}, summary="Issue a bearer token")
def token_create(request: HttpRequest, payload: TokenIn) -> Any:
    """Password and second factor (`otp`) of a staff account that has set up MFA.

    Without `otp`: 401 `mfa_required`; a wrong one: 401 `invalid_otp`; too many: 429.
    """
    ip = client_ip(request)
    # The same sign-in throttle as the login form's, or this would be the way round it.
    throttle_guard(scope="login", account=payload.username, ip=ip)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        throttle_failure(scope="login", account=payload.username, ip=ip)
        raise ApplicationError("invalid_credentials", "Wrong username or password.", status=401)
    assert isinstance(user, User)
    throttle_success(scope="login", account=payload.username, ip=ip)
    if not payload.otp.strip():
        raise ApplicationError(
            "mfa_required",
            "Send `otp`: the current code of the account's authenticator app, or a recovery code.",
            details={"enrolled": mfa_is_enrolled(user)},
            status=401,
        )
    mfa_verify(user=user, code=payload.otp, ip=ip)
    token, key = api_token_create(user=user, name=payload.name)
    return Status(201, {"token": key, "name": token.name})


@router.get("/me", response=MeOut, summary="The authenticated staff member")
def me(request: HttpRequest) -> dict[str, object]:
    user: User = request.auth  # type: ignore[attr-defined]
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.label,
        "roles": user_roles(user),
        "scope": user_scope(user).value,
        "team_ids": user_team_ids(user),
    }


class AvailabilityIn(StrictIn):
    accepting_cases: bool


class AvailabilityOut(Schema):
    accepting_cases: bool
    available_now: bool
    unavailable: str = Field(description="Why not available now: away, absent, off_shift; or ''")


def _availability(user: User) -> dict[str, object]:
    reason = user_unavailable_reason(user, clock.now())
    return {
        "accepting_cases": user.accepting_cases,
        "available_now": not reason,
        "unavailable": reason,
    }


@router.get("/me/availability", response=AvailabilityOut, summary="Am I given new cases now")
def my_availability(request: HttpRequest) -> dict[str, object]:
    return _availability(request_user(request))


@router.put(
    "/me/availability", response=AvailabilityOut, summary="Accept new cases, or set myself away"
)
def my_availability_set(request: HttpRequest, payload: AvailabilityIn) -> dict[str, object]:
    user = availability_set(actor=request_user(request), accepting=payload.accepting_cases)
    return _availability(user)


ReasonT = Literal["leave", "sick", "training", "other"]


class AbsenceIn(StrictIn):
    user: RecordId
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: ReasonT
    note: str = Field("", max_length=500)


class AbsenceOut(Schema):
    id: int
    user: int
    user_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    note: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None

    @staticmethod
    def resolve_user(obj: Absence) -> int:
        return obj.user_id

    @staticmethod
    def resolve_user_name(obj: Absence) -> str:
        return obj.user.label


class AbsenceListOut(Schema):
    count: int
    items: list[AbsenceOut]


class AbsenceQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    user: RecordId | None = None
    current: bool = Field(False, description="Only absences not cancelled that have not ended")
    limit: int = Field(50, ge=1, le=100)
    offset: Offset = 0


@router.get("/absences", response=AbsenceListOut, summary="Absences I may see, latest first")
def absence_list(request: HttpRequest, filters: Query[AbsenceQuery]) -> dict[str, object]:
    actor = request_user(request)
    require_perm(actor, "accounts.view_absence")
    qs = absences_visible_to(actor).order_by("-starts_at", "-id")
    if filters.user is not None:
        qs = qs.filter(user_id=filters.user)
    if filters.current:
        qs = qs.filter(cancelled_at__isnull=True, ends_at__gt=clock.now())
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "items": items}


@router.post("/absences", response={201: AbsenceOut}, summary="Record an absence of a member")
def absence_create(request: HttpRequest, payload: AbsenceIn) -> Any:
    actor = request_user(request)
    require_perm(actor, "accounts.plan_staff")
    user = get_object_or_404(User, pk=payload.user, is_active=True)
    absence = absence_record(
        actor=actor,
        user=user,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        reason=payload.reason,
        note=payload.note,
    )
    return Status(201, absence)


@router.post(
    "/absences/{absence_id}/cancel", response=AbsenceOut, summary="Cancel an absence (kept)"
)
def absence_cancel_view(request: HttpRequest, absence_id: RecordId) -> Absence:
    actor = request_user(request)
    absence = get_object_or_404(absences_visible_to(actor), pk=absence_id)
    return absence_cancel(actor=actor, absence=absence)
