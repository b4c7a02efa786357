"""The role check every service makes, and the staff member behind a request."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from .models import User


def require_perm(actor: User | None, perm: str, *, system_allowed: bool = False) -> None:
    """Refuse unless `actor` is an active member of staff whose roles grant `perm`.

    Services call this themselves, so no API, view, task or command can skip it. `actor=None`
    is the system itself (e.g. an import) and passes only where `system_allowed`.
    """
    if actor is None:
        if system_allowed:
            return
        raise PermissionDenied(_("This action needs a signed-in member of staff."))
    if not actor.is_active or not actor.has_perm(perm):
        raise PermissionDenied(_("Your role does not allow this action."))


def request_user(request: HttpRequest) -> User:
    """The authenticated staff member of an API request or page."""
    user = request.user
    assert isinstance(user, User)  # every authenticator only admits staff accounts
    return user
