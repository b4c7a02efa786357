"""The API's one error shape, also for the errors answered before an API view runs."""

from collections.abc import Callable
from http.client import responses

from django.http import HttpRequest, HttpResponseBase

from aftersales.core.api import STATUS_CODES, error_response

API_PREFIX = "/api/"

MESSAGES = {
    404: "No such record.",
    405: "This endpoint does not accept the method.",
}


def api_error_shape(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Turn a 4xx under /api/ that is not JSON into `{code, message, details}`.

    Django answers a path no route matches (e.g. `/api/v1/customers/abc`) with its HTML 404
    page, and Ninja answers a method an endpoint lacks with a plain-text 405; API clients get
    the same error body as from every other refusal. The `Allow` header of a 405 is kept.
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        status = response.status_code
        if (
            not request.path_info.startswith(API_PREFIX)
            or not 400 <= status < 500
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        allowed = response.get("Allow", "")
        details = {"allowed": sorted(m.strip() for m in allowed.split(","))} if allowed else {}
        message = MESSAGES.get(status) or f"{responses.get(status, 'Refused')}."
        shaped = error_response(
            request, status, STATUS_CODES.get(status, "error"), message, details
        )
        if allowed:
            shaped["Allow"] = allowed
        return shaped

    return middleware


def security_headers(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Security headers on every response (filled in by the security work)."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return get_response(request)

    return middleware
