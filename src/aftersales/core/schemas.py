"""Input types the API routers share."""

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import ConfigDict, Field

from aftersales.core.errors import ApplicationError

# Ids and row offsets are signed 64-bit integers in the database: a larger number can match no
# row, and SQLite and PostgreSQL refuse to compare a column with it, so it is refused as input.
DB_INT_MAX = 2**63 - 1

RecordId = Annotated[int, Field(gt=0, le=DB_INT_MAX)]
Offset = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
# A day a report or filter may name: periods are computed from it (e.g. the 90 days before),
# and a year-1 or year-9999 date would overflow that arithmetic instead of meaning anything.
ReportDate = Annotated[dt.date, Field(ge=dt.date(1990, 1, 1), le=dt.date(2199, 12, 31))]


class StrictIn(Schema):
    """Base of every input schema: unknown fields are refused (422 `invalid_input`).

    A client that sends `{"tier": "vip"}` or `{"status": "closed"}` where the schema does not
    take it learns so and nothing changes, instead of the field being silently ignored: the
    write allowlist of each endpoint is exactly its schema's fields (see `core.policy`).
    """

    model_config = ConfigDict(extra="forbid")


class PageOf100(LimitOffsetPagination):
    """limit/offset pagination with at most 100 rows a page."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=100)
        offset: Offset = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=100, **kwargs)


def idempotency_key(request: HttpRequest) -> str | None:
    """The request's `Idempotency-Key` header (1 to 80 printable characters), or None; 422
    `invalid_idempotency_key` for anything else."""
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and (len(key) > 80 or not key.isprintable()):
        raise ApplicationError(
            "invalid_idempotency_key",
            "Idempotency-Key is 1 to 80 printable characters.",
            details={"Idempotency-Key": "too long" if len(key) > 80 else "not printable"},
            status=422,
        )
    return key
