"""The versioned JSON API: authentication, the one error shape, and the domain routers."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth

from aftersales.core.errors import ApplicationError


class ErrorOut(Schema):
    """Every error: a stable machine-readable `code`, a human `message`, optional `details`."""

    code: str
    message: str
    details: dict[str, Any] = {}


class BearerToken(HttpBearer):
    """`Authorization: Bearer ast_...` for other systems and the mobile app."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from aftersales.accounts.services import api_token_authenticate

        user = api_token_authenticate(key=token)
        if user is not None:
            request.user = user
        return user


class StaffSession(SessionAuth):
    """The staff UI's session cookie (CSRF checked on writes)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class TextParser(Parser):
    """JSON bodies and query strings without NUL characters, which PostgreSQL cannot store.

    A body with one is refused as unparseable (400), a query parameter as invalid input (422).
    """

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data: dict[str, Any] = super().parse_body(request)
        if _has_nul(data):
            raise ValueError("text may not contain NUL characters")
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result: dict[str, Any] = super().parse_querydict(data, list_fields, request)
        bad = [key for key, value in result.items() if _has_nul(value)]
        if bad:
            raise NinjaValidationError(
                [
                    {"loc": ("query", key), "msg": "may not contain NUL characters", "type": "nul"}
                    for key in bad
                ]
            )
        return result


api = NinjaAPI(
    title="Aftersales API",
    version="1",
    description=(
        "After-sales service management. Authenticate with a bearer token "
        "(`Authorization: Bearer ast_...`) or a staff session. Errors are "
        "`{code, message, details}` with a 4xx status."
    ),
    auth=[BearerToken(), StaffSession()],
    parser=TextParser(),
    urls_namespace="api-v1",
)


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details or {}}, status=status
    )


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return error_response(request, exc.status_code, exc.code, exc.message, exc.details)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", [])],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors
    ]
    return error_response(
        request, 422, "invalid_input", "The request did not pass validation.", {"errors": errors}
    )


@api.exception_handler(DjangoValidationError)
def _django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    details = (
        {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        if hasattr(exc, "error_dict")
        else {"errors": [str(m) for m in exc.messages]}
    )
    return error_response(
        request, 422, "invalid_input", "The request did not pass validation.", details
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthenticated", "Sign in or send a valid bearer token.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(
        request, 403, "forbidden", str(exc) or "Your role does not allow this action."
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "No such record.")


# The code of an error that carries only an HTTP status.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
}


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(
        request, exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc.message)
    )


def _register_routers() -> None:
    from aftersales.accounts.api import router as accounts_router
    from aftersales.callbacks.api import public_router as surveys_router
    from aftersales.callbacks.api import router as callbacks_router
    from aftersales.cases.api import router as cases_router
    from aftersales.catalog.api import router as catalog_router
    from aftersales.complaints.api import router as complaints_router
    from aftersales.core.audit_api import router as audit_router
    from aftersales.customers.api import router as customers_router
    from aftersales.parts.api import router as parts_router
    from aftersales.privacy.api import router as privacy_router
    from aftersales.sla.api import router as sla_router

    api.add_router("/auth", accounts_router)
    api.add_router("/customers", customers_router)
    api.add_router("/catalog", catalog_router)
    api.add_router("/cases", cases_router)
    api.add_router("/complaints", complaints_router)
    api.add_router("/sla", sla_router)
    api.add_router("/audit", audit_router)
    api.add_router("/privacy", privacy_router)
    api.add_router("/callbacks", callbacks_router)
    api.add_router("/surveys", surveys_router)
    api.add_router("/parts", parts_router)


_register_routers()
