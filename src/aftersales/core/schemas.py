"""Input types the API routers share."""

from typing import Annotated

from pydantic import Field

# Ids and row offsets are signed 64-bit integers in the database: a larger number can match no
# row, and SQLite and PostgreSQL refuse to compare a column with it, so it is refused as input.
DB_INT_MAX = 2**63 - 1

RecordId = Annotated[int, Field(gt=0, le=DB_INT_MAX)]
Offset = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
