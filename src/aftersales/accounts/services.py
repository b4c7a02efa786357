"""Writes about staff: role groups, accounts, teams, API tokens."""

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from aftersales.core import clock
from aftersales.core.errors import ApplicationError

from .models import ApiToken, Team, TeamMembership, User
from .roles import ROLE_PERMISSIONS, Role


def roles_sync() -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    with transaction.atomic():
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
) -> User:
    """Create a staff account with its roles and team memberships.

    `password_hash` (from `make_password`) lets bulk creation hash a shared password once.
    """
    with transaction.atomic():
        user = User(username=username, display_name=display_name, email=email, is_staff=False)
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
