"""Authentication endpoints: exchange credentials for a bearer token, and who am I."""

from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from aftersales.core.errors import ApplicationError

from .models import User
from .selectors import user_roles, user_scope, user_team_ids
from .services import api_token_create

router = Router(tags=["auth"])


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=200)
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
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        raise ApplicationError("invalid_credentials", "Wrong username or password.", status=401)
    assert isinstance(user, User)
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
