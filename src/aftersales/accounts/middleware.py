"""Session security and the MFA requirement for staff (filled in by the security work)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

Handler = Callable[[HttpRequest], HttpResponseBase]


def session_security(get_response: Handler) -> Handler:
    """Idle and absolute session timeouts."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return get_response(request)

    return middleware


def mfa_required(get_response: Handler) -> Handler:
    """Staff pages only after a second factor."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return get_response(request)

    return middleware
