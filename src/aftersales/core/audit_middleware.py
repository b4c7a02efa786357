"""Records refused requests in the audit log, and gives audit rows the request's address."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from aftersales.accounts.models import User

from .audit import access_denied, request_ip
from .services import audit_request_ip

Handler = Callable[[HttpRequest], HttpResponseBase]


def audit_denials(get_response: Handler) -> Handler:
    """After the view: an authenticated request answered 403, or 404 on a URL that names a
    record (a route with parameters, e.g. `/cases/<number>/`), is recorded as `access.denied`.

    A 404 from no route at all is a typo, not a probe of someone else's record, and is not
    recorded. The user is read after the view because API bearer tokens sign in there.
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        ip = request_ip(request)
        with audit_request_ip(ip):
            response = get_response(request)
            user = getattr(request, "user", None)
            status = response.status_code
            match = request.resolver_match
            if (
                isinstance(user, User)
                and user.is_authenticated
                and (status == 403 or (status == 404 and match is not None and match.kwargs))
            ):
                access_denied(
                    actor=user,
                    method=request.method or "",
                    path=request.path,
                    status=status,
                    view=match.view_name if match is not None else "",
                    ip=ip,
                )
        return response

    return middleware
