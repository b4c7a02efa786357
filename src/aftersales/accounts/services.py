"""Writes about staff: role groups, accounts, teams, absences and availability, API tokens."""

import datetime as dt
import secrets
from functools import partial
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.models import BusinessCalendar
from aftersales.core.phones import mask_email, mask_phone, normalize_phone
from aftersales.core.policy import FIELD_PERMISSIONS
from aftersales.core.services import audit_record

from .models import Absence, ApiToken, Seniority, Team, TeamMembership, User, new_security_stamp
from .permissions import require_perm
from .roles import ROLE_PERMISSIONS, Role, Scope
from .selectors import user_scope
from .throttle import throttle_attempt


def roles_sync() -> None:
    """Create the role groups and give each exactly its permissions (idempotent).

    Field permissions (`aftersales.core.policy.FIELD_PERMISSIONS`) guard fields, not models, so
    no model declares them: they are created here on the model their data belongs to.
    """
    with transaction.atomic():
        for dotted, (model, name) in FIELD_PERMISSIONS.items():
            app_label, codename = dotted.split(".")
            content_type = ContentType.objects.get_by_natural_key(app_label, model)
            Permission.objects.update_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
        for role, codenames in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role.value)
            perms = []
            for dotted in codenames:
                app_label, codename = dotted.split(".")
                perms.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            group.permissions.set(perms)


def staff_create(
    *,
    username: str,
    password: str,
    display_name: str,
    roles: list[Role],
    teams: list[Team] | None = None,
    leads: list[Team] | None = None,
    email: str = "",
    password_hash: str = "",
    seniority: str = "",
    work_calendar: BusinessCalendar | None = None,
) -> User:
    """Create a staff account with its roles and team memberships.

    `password_hash` (from `make_password`) lets bulk creation hash a shared password once.
    Seniority defaults to senior for senior agents and junior otherwise; `work_calendar` blank
    means the default working hours.
    """
    if not seniority:
        seniority = Seniority.SENIOR if Role.SENIOR_AGENT in roles else Seniority.JUNIOR
    with transaction.atomic():
        user = User(
            username=username,
            display_name=display_name,
            email=email,
            is_staff=False,
            seniority=seniority,
            work_calendar=work_calendar,
        )
        if password_hash:
            user.password = password_hash
        else:
            user.set_password(password)
        if Role.ADMINISTRATOR in roles:
            user.is_staff = True
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.set(Group.objects.filter(name__in=[r.value for r in roles]))
        for team in teams or []:
            TeamMembership.objects.get_or_create(team=team, user=user)
        for team in leads or []:
            TeamMembership.objects.update_or_create(
                team=team, user=user, defaults={"is_lead": True}
            )
        return user


def team_create(*, code: str, name: str, kind: str, region: str = "") -> Team:
    """Create a team."""
    team = Team(code=code, name=name, kind=kind, region=region)
    team.full_clean()
    team.save()
    return team


LAST_USED_PRECISION = dt.timedelta(minutes=1)


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Issue a bearer token; the clear key is returned once and never stored."""
    if not user.is_active:
        raise ApplicationError("user_inactive", "Tokens cannot be issued to a disabled account.")
    key = "ast_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100] or "token",
        key_hash=ApiToken.hash_key(key),
        prefix=key[4:12],
        created_at=clock.now(),
    )
    return token, key


def api_token_authenticate(*, key: str) -> User | None:
    """The active user behind a bearer token, or None; records when it was last used."""
    if not key.startswith("ast_"):
        return None
    token: Any = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    # Record use at minute precision: a write per request would serialise busy integrations.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user: User = token.user
    return user


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token at once."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())


MAX_ABSENCE = dt.timedelta(days=366)
# Anything outside is a typing mistake (and the far ends overflow in time-zone arithmetic).
ABSENCE_YEARS = (2000, 2100)


def _require_planning(actor: User, user: User) -> None:
    """Supervisors plan the members of the teams they lead; managers and admins plan anyone."""
    require_perm(actor, "accounts.plan_staff")
    if user_scope(actor) == Scope.ALL:
        return
    led = TeamMembership.objects.filter(user=actor, is_lead=True, team__is_active=True).values(
        "team_id"
    )
    if not TeamMembership.objects.filter(user=user, team_id__in=led).exists():
        raise PermissionDenied(_("You plan only the members of the teams you lead."))


def absence_record(
    *,
    actor: User,
    user: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    note: str = "",
) -> Absence:
    """Record that `user` is away (leave, sick, training) from `starts_at` until `ends_at`.

    Routing gives them no case while it lasts. An absence may not overlap another one of the
    same person; the person's row is locked so two supervisors cannot both record one.
    """
    _require_planning(actor, user)
    errors: dict[str, str] = {}
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        errors["starts_at"] = _("Times need a time zone.")
    elif not (ABSENCE_YEARS[0] <= starts_at.year and ends_at.year <= ABSENCE_YEARS[1]):
        errors["starts_at"] = _("Use dates between %(first)d and %(last)d.") % {
            "first": ABSENCE_YEARS[0],
            "last": ABSENCE_YEARS[1],
        }
    elif ends_at <= starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    elif ends_at - starts_at > MAX_ABSENCE:
        errors["ends_at"] = _("An absence lasts at most a year; record a longer one in parts.")
    if reason not in Absence.Reason.values:
        errors["reason"] = _("Unknown reason %(value)r.") % {"value": reason}
    note = note.strip()
    if len(note) > 500:
        errors["note"] = _("At most %(n)d characters.") % {"n": 500}
    if not user.is_active:
        errors["user"] = _("This account is disabled.")
    if errors:
        raise ApplicationError(
            "invalid_absence", _("The absence cannot be recorded."), details=errors
        )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        overlapping = (
            Absence.objects.filter(
                user=user, cancelled_at__isnull=True, starts_at__lt=ends_at, ends_at__gt=starts_at
            )
            .order_by("starts_at")
            .first()
        )
        if overlapping is not None:
            raise Conflict(
                "absence_overlaps",
                _("%(user)s is already away from %(start)s to %(end)s.")
                % {
                    "user": user.label,
                    "start": timezone.localtime(overlapping.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "end": timezone.localtime(overlapping.ends_at).strftime("%Y-%m-%d %H:%M"),
                },
                details={"absence": overlapping.pk},
            )
        absence = Absence.objects.create(
            user=user,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            note=note,
            created_by=actor,
            created_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="staff.absence_recorded",
            entity="user",
            entity_id=user.pk,
            data={
                "absence": absence.pk,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "reason": reason,
            },
        )
        return absence


def absence_cancel(*, actor: User, absence: Absence) -> Absence:
    """Cancel an absence (the person is back, or it was entered by mistake); the row stays."""
    _require_planning(actor, absence.user)
    with transaction.atomic():
        absence = Absence.objects.select_for_update().select_related("user").get(pk=absence.pk)
        if absence.cancelled_at is not None:
            raise Conflict("absence_cancelled", _("This absence was already cancelled."))
        absence.cancelled_at = clock.now()
        absence.cancelled_by = actor
        absence.save(update_fields=["cancelled_at", "cancelled_by"])
        audit_record(
            actor=actor,
            action="staff.absence_cancelled",
            entity="user",
            entity_id=absence.user_id,
            data={"absence": absence.pk},
        )
        return absence


def availability_set(*, actor: User, accepting: bool) -> User:
    """Set oneself as accepting new cases or away (示忙/示闲); routing respects it at once."""
    require_perm(actor, "cases.work_case")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        if user.accepting_cases == accepting:
            return user
        user.accepting_cases = accepting
        user.save(update_fields=["accepting_cases"])
        audit_record(
            actor=actor,
            action="staff.availability_set",
            entity="user",
            entity_id=user.pk,
            data={"accepting_cases": accepting},
        )
        return user


def staff_schedule_set(
    *,
    actor: User,
    user: User,
    work_calendar: BusinessCalendar | None,
    seniority: str | None = None,
) -> User:
    """Set the calendar whose hours `user` works (None: the default) and, optionally, seniority."""
    _require_planning(actor, user)
    if seniority is not None and seniority not in Seniority.values:
        raise ApplicationError(
            "invalid_schedule",
            _("Unknown seniority %(value)r.") % {"value": seniority},
            details={"seniority": seniority},
        )
    if work_calendar is not None and not work_calendar.is_active:
        raise ApplicationError(
            "invalid_schedule",
            _("That calendar is not active."),
            details={"work_calendar": work_calendar.pk},
        )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = {"work_calendar": locked.work_calendar_id, "seniority": locked.seniority}
        locked.work_calendar = work_calendar
        if seniority is not None:
            locked.seniority = seniority
        after = {"work_calendar": locked.work_calendar_id, "seniority": locked.seniority}
        if before == after:
            return locked
        locked.save(update_fields=["work_calendar", "seniority"])
        audit_record(
            actor=actor,
            action="staff.schedule_set",
            entity="user",
            entity_id=locked.pk,
            data={"before": before, "after": after},
        )
        return locked


def _session_rehash(session_key: str, user: User) -> None:
    """Give one stored session of `user` the user's current session hash, so it survives."""
    engine = import_module(settings.SESSION_ENGINE)
    store = engine.SessionStore(session_key)
    if str(store.get(SESSION_KEY, "")) != str(user.pk):
        return  # no such session, or someone else's
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()


def sessions_end(
    *,
    user: User,
    keep_session_key: str | None = None,
    reason: str,
    actor: User | None = None,
) -> None:
    """End every session of `user` at its next request, except `keep_session_key` if given.

    Rotates the user's security stamp, which is part of the session hash Django checks on
    every request (as a password change does). Used after a change of second factor, when an
    account is disabled, and on request. `user` gets the new stamp too, so a caller holding it
    can `update_session_auth_hash(request, user)` to keep its own session.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.security_stamp = new_security_stamp()
        locked.save(update_fields=["security_stamp"])
        audit_record(
            actor=actor or user,
            action="auth.sessions_ended",
            entity="user",
            entity_id=locked.pk,
            data={"reason": reason, "kept_one": bool(keep_session_key)},
        )
    user.security_stamp = locked.security_stamp
    if keep_session_key:
        _session_rehash(keep_session_key, locked)


def api_tokens_revoke_all(*, actor: User | None, user: User, reason: str) -> int:
    """Revoke every live bearer token of `user` at once; returns how many were revoked."""
    with transaction.atomic():
        count = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=clock.now()
        )
        if count:
            audit_record(
                actor=actor,
                action="auth.tokens_revoked",
                entity="user",
                entity_id=user.pk,
                data={"count": count, "reason": reason},
            )
        return count


def staff_set_active(*, actor: User, user: User, active: bool) -> User:
    """Enable or disable a staff account (administrators).

    Disabling takes effect at once: every bearer token is revoked and every session ends at its
    next request. Nobody disables their own account (an administrator could lock everyone out).
    """
    require_perm(actor, "accounts.change_user")
    if not active and actor.pk == user.pk:
        raise ApplicationError(
            "cannot_disable_self", _("You cannot disable your own account."), status=409
        )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active == active:
            return locked
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="staff.enabled" if active else "staff.disabled",
            entity="user",
            entity_id=locked.pk,
            data={"before": {"is_active": not active}, "after": {"is_active": active}},
        )
        if not active:
            api_tokens_revoke_all(actor=actor, user=locked, reason="disabled")
            sessions_end(user=locked, reason="disabled", actor=actor)
    user.is_active = locked.is_active
    user.security_stamp = locked.security_stamp
    return locked


def _masked_email(value: str) -> str:
    return mask_email(value) if value else ""


def _masked_phone(value: str) -> str:
    return mask_phone(value) if value else ""


def staff_contact_update(*, actor: User, email: str, phone: str, reauthenticated: bool) -> User:
    """Change one's own e-mail address and work phone (blank clears them).

    A change needs the password entered again within REAUTH_MAX_AGE seconds
    (`reauthenticated`), since whoever controls the e-mail address can reset the password.
    The audit row holds the before/after values masked.
    """
    email = email.strip()
    phone = phone.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ApplicationError(
                "invalid_email",
                _("%(value)r is not an e-mail address.") % {"value": email},
                details={"email": _("Enter a valid e-mail address.")},
                status=422,
            ) from exc
    if phone:
        phone = normalize_phone(phone)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=actor.pk)
        changes: dict[str, dict[str, str]] = {}
        if locked.email != email:
            changes["email"] = {
                "before": _masked_email(locked.email),
                "after": _masked_email(email),
            }
        if locked.phone != phone:
            changes["phone"] = {
                "before": _masked_phone(locked.phone),
                "after": _masked_phone(phone),
            }
        if not changes:
            return locked
        if not reauthenticated:
            raise ApplicationError(
                "reauth_required",
                _("Enter your password again to change your e-mail address or phone."),
                status=403,
            )
        locked.email = email
        locked.phone = phone
        locked.full_clean(exclude=["password"])
        locked.save(update_fields=["email", "phone"])
        audit_record(
            actor=actor,
            action="staff.contact_changed",
            entity="user",
            entity_id=locked.pk,
            data=changes,
        )
    actor.email = locked.email
    actor.phone = locked.phone
    return locked


def _password_validate(user: User, password: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(
            "invalid_password",
            _("The password cannot be used."),
            details={"password": list(exc.messages)},
            status=422,
        ) from exc


def password_change(*, user: User, password: str, ip: str = "") -> User:
    """Set a new password the user chose (knowing the old one, checked by the caller).

    The password validators apply (length, similarity, known-password lists). The session hash
    changes with the password, so every other session ends at its next request; the caller
    keeps its own with `update_session_auth_hash`.
    """
    _password_validate(user, password)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        audit_record(
            actor=locked, action="auth.password_changed", entity="user", entity_id=locked.pk, ip=ip
        )
    user.password = locked.password
    return locked


def password_change_record(*, actor: User, user: User) -> None:
    """Audit a password an administrator set in the admin site (whose form saves it itself);
    call in the same transaction. The user's sessions end with the old password."""
    audit_record(
        actor=actor,
        action="auth.password_changed",
        entity="user",
        entity_id=user.pk,
        data={"by_administrator": True},
    )


def password_reset_request(*, email: str, ip: str, base_url: str) -> None:
    """Send a password-reset link to the staff account(s) using `email`, if there are any.

    The caller answers the same whether or not one exists (no account enumeration); requests
    are throttled per address and client (429 `too_many_attempts`). The mail goes out after
    commit from a worker, so the answer takes as long either way.
    """
    address = email.strip()
    throttle_attempt(scope="password_reset", account=address, ip=ip)
    users = [
        u
        for u in User.objects.filter(email__iexact=address, is_active=True)
        if u.has_usable_password()
    ]
    with transaction.atomic():
        for user in users:
            audit_record(
                actor=None,
                action="auth.password_reset_requested",
                entity="user",
                entity_id=user.pk,
                ip=ip,
            )
            transaction.on_commit(
                partial(_password_reset_mail_queue, user.pk, base_url), robust=True
            )


def _password_reset_mail_queue(user_id: int, base_url: str) -> None:
    from .tasks import password_reset_mail

    password_reset_mail.delay(user_id, base_url)


def password_reset_mail_send(*, user_id: int, base_url: str) -> int:
    """E-mail the reset link to one active user, in their language; returns mails sent."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return 0
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "link": base_url.rstrip("/") + path,
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        subject = render_to_string("accounts/password_reset_subject.txt", context).strip()
        body = render_to_string("accounts/password_reset_email.txt", context)
    return send_mail(subject, body, None, [user.email])


def password_reset_complete(*, user: User, password: str, ip: str = "") -> User:
    """Set the password chosen through a valid reset link; the link then stops working.

    Django's reset token hashes the password and last sign-in, so it is spent once the password
    changes; every session of the user ends with it.
    """
    _password_validate(user, password)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        audit_record(
            actor=locked,
            action="auth.password_reset_completed",
            entity="user",
            entity_id=locked.pk,
            ip=ip,
        )
    user.password = locked.password
    return locked
