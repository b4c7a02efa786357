"""The API's one error shape, also for the errors answered before an API view runs."""

from collections.abc import Callable
from http.client import responses

from django.conf import settings
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


# No inline script or style anywhere: scripts and styles are static files, chart data travels in
# `json_script` blocks (JSON, never executed), HTMX runs with eval off (see base.html). What an
# attacker manages to store in a page therefore cannot run, even where escaping were missed.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def security_headers(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Browser-side defences on every response (OWASP ASVS V3, V14).

    A view that sets its own Content-Security-Policy keeps it (attachment downloads send a
    stricter sandbox policy). `Cache-Control: no-store` goes on every response to a signed-in
    user, pages and API alike, because they show personal data that must not stay in a shared
    browser's or proxy's cache; static files keep the long caching WhiteNoise gives them.
    """
    static_prefix = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        is_static = static_prefix is not None and request.path_info.startswith(static_prefix)
        user = getattr(request, "user", None)
        if not is_static and user is not None and user.is_authenticated:
            response.headers["Cache-Control"] = "no-store"
        return response

    return middleware
