"""One application error type with stable codes, mapped to one error shape by the API and UI."""

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the request. `code` is stable and machine-readable."""

    status_code = 400

    def __init__(
        self, code: str, message: str, *, details: dict[str, Any] | None = None, status: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        if status:
            self.status_code = status


class NotFound(ApplicationError):
    status_code = 404


class Conflict(ApplicationError):
    status_code = 409


class Forbidden(ApplicationError):
    status_code = 403
