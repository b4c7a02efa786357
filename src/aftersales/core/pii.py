"""The registry of personal-data fields (个人信息字段登记): what each one holds, how it is
protected at rest, and what erasure does to it.

Encryption, the data-subject export, erasure and retention all read this one list, so a field
added to a model is protected everywhere once it is registered here (and a test fails when a
field that looks personal is missing from it, see tests/core/test_pii.py).

`encrypted` says the column holds AES-GCM ciphertext (`core.fields.EncryptedTextField`); its
blind indexes, if any, are the model's `BlindIndexField`s whose `source` is the field. Kept in
the clear on purpose: the company name (searched by part, and for a company customer not
personal data), the region of an address (routing and reports), case subjects (a short
summary of the fault shown in every queue; staff write no personal data there).
"""

from dataclasses import dataclass
from enum import StrEnum


class PiiKind(StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    FREE_TEXT = "free_text"  # what a customer or agent wrote; may hold any of the above


class Erasure(StrEnum):
    """What erasing a customer does to the field."""

    DELETE_ROW = "delete_row"  # the whole row goes (e.g. a phone number and its blind index)
    REPLACE = "replace"  # replaced by a neutral placeholder (the record itself is kept)
    BLANK = "blank"  # emptied


@dataclass(frozen=True)
class PiiField:
    model: str  # "app_label.ModelName"
    field: str
    kind: PiiKind
    erasure: Erasure
    # Path from the model to the customer the value belongs to ("" for the customer itself).
    customer_path: str
    encrypted: bool = True


PII_FIELDS: tuple[PiiField, ...] = (
    PiiField("customers.Customer", "name", PiiKind.NAME, Erasure.REPLACE, ""),
    PiiField("customers.Customer", "notes", PiiKind.FREE_TEXT, Erasure.BLANK, ""),
    PiiField(
        "customers.Customer", "company_name", PiiKind.NAME, Erasure.BLANK, "", encrypted=False
    ),
    PiiField("customers.ContactPoint", "value", PiiKind.PHONE, Erasure.DELETE_ROW, "customer"),
    PiiField("customers.Address", "street", PiiKind.ADDRESS, Erasure.BLANK, "customer"),
    PiiField("cases.Case", "description", PiiKind.FREE_TEXT, Erasure.REPLACE, "customer"),
    PiiField("cases.Case", "solution_notes", PiiKind.FREE_TEXT, Erasure.REPLACE, "customer"),
    PiiField("cases.CaseEvent", "body", PiiKind.FREE_TEXT, Erasure.REPLACE, "case__customer"),
    # A subject is a short summary shown in every queue (kept in the clear), but a customer may
    # have put their name in it; a file name may carry one too (the files themselves are
    # removed by `cases.attachments.attachments_erase_for_customers`).
    PiiField(
        "cases.Case", "subject", PiiKind.FREE_TEXT, Erasure.REPLACE, "customer", encrypted=False
    ),
    PiiField(
        "cases.Attachment",
        "filename",
        PiiKind.FREE_TEXT,
        Erasure.REPLACE,
        "case__customer",
        encrypted=False,
    ),
    # Return visits: what the agent noted on a call, and the customer's own survey comment.
    PiiField(
        "callbacks.VisitAttempt", "note", PiiKind.FREE_TEXT, Erasure.REPLACE, "visit__customer"
    ),
    PiiField("callbacks.Survey", "comment", PiiKind.FREE_TEXT, Erasure.REPLACE, "customer"),
    # Complaints: the review group's findings and recommendation and the reason given for a
    # compensation describe what happened to the customer; the records themselves are kept.
    PiiField(
        "complaints.ComplaintReview",
        "findings",
        PiiKind.FREE_TEXT,
        Erasure.REPLACE,
        "complaint__case__customer",
    ),
    PiiField(
        "complaints.ComplaintReview",
        "recommendation",
        PiiKind.FREE_TEXT,
        Erasure.REPLACE,
        "complaint__case__customer",
    ),
    PiiField(
        "complaints.CompensationProposal",
        "reason",
        PiiKind.FREE_TEXT,
        Erasure.REPLACE,
        "complaint__case__customer",
    ),
)


def pii_fields_of(model_label: str) -> list[PiiField]:
    """The registered personal-data fields of one model ("app_label.ModelName")."""
    return [f for f in PII_FIELDS if f.model == model_label]
