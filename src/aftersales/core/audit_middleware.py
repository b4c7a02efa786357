"""Records refused requests in the audit log (filled in by the security work)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

Handler = Callable[[HttpRequest], HttpResponseBase]


def audit_denials(get_response: Handler) -> Handler:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        return get_response(request)

    return middleware
