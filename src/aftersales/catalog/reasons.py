"""Why a unit's field or an imported row is refused: stable message ids, texts and display.

A field rule raises `FieldInvalid`: an `ApplicationError` whose `message` is in the active
language and which also carries the id of its message and the parameters filled into it.

The import stores every reason of a rejected row (see `reason`) as

    {"code": ..., "message": "<English text>", "message_id": ..., "params": {...}}

`code` and `message` are what the API returns; `message_id` and `params` let the report page
say it again in the reader's language (`reason_text`). Parameters are plain strings and
numbers, already formatted, so they read the same in every language. Reports stored before
message ids existed have neither and show their stored message.
"""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_noop

from aftersales.core.errors import ApplicationError

# message id -> English text (the msgid); ids are stored in import reports: never rename one.
MESSAGES: dict[str, str] = {
    "serial_required": gettext_noop("A serial number is required."),
    "serial_invalid": gettext_noop(
        "%(value)r is not a serial number (at most %(max)d characters, no spaces)."
    ),
    "model_code_required": gettext_noop("A model code is required."),
    "model_unknown": gettext_noop("No product model %(value)r in the catalog."),
    "purchase_date_required": gettext_noop("A purchase date is required."),
    "purchase_date_invalid": gettext_noop("%(value)r is not a date in the form YYYY-MM-DD."),
    "purchase_date_future": gettext_noop("The purchase date %(date)s is in the future."),
    "amount_required": gettext_noop("An amount is required."),
    "amount_format": gettext_noop("%(value)r is not an amount such as 3999.00."),
    "amount_invalid": gettext_noop("%(value)s is not a purchase amount."),
    "amount_negative": gettext_noop("The amount cannot be negative."),
    "amount_decimals": gettext_noop("The amount has more than two decimal places."),
    "currency_invalid": gettext_noop("%(value)r is not a three-letter currency code."),
    "sales_channel_required": gettext_noop("A sales channel is required."),
    "sales_channel_invalid": gettext_noop(
        "%(value)r is not a sales channel; use one of %(choices)s."
    ),
    "warranty_months_invalid": gettext_noop("Warranty months must be between 0 and %(max)d."),
    "text_too_long": gettext_noop("At most %(n)d characters, please."),
    "phone_invalid": gettext_noop("%(value)r is not a valid phone number."),
    "phone_required": gettext_noop("A phone number is needed to find or open the customer's file."),
    "address_incomplete": gettext_noop("An address needs both province and city."),
    "extra_cells": gettext_noop("The row has cells outside the header's columns."),
    "duplicate_in_file": gettext_noop(
        "%(model)s %(serial)s appears in rows %(rows)s; keep one row per unit."
    ),
    "registered_differently": gettext_noop(
        "The unit is registered with %(registered)s; the file says %(given)s."
    ),
    "registered_without_customer": gettext_noop(
        "The unit is registered without a customer; assign the owner by hand."
    ),
    "registered_to_other_customer": gettext_noop(
        "The unit is registered to a customer without this phone number."
    ),
    "ambiguous_customer": gettext_noop(
        "Several customers have this phone number; register this unit by hand."
    ),
    "customer_name_required": gettext_noop(
        "This phone number is not on file; a name is needed to open the customer's file."
    ),
}


class FieldInvalid(ApplicationError):
    """A field broke its rule (422); `details` names the field, `message` is translated."""

    def __init__(self, field_name: str, code: str, message_id: str, **params: Any) -> None:
        super().__init__(
            code,
            gettext(MESSAGES[message_id]) % params,
            details={"field": field_name},
            status=422,
        )
        self.message_id = message_id
        self.params = params


def reason(code: str, message_id: str, **params: Any) -> dict[str, Any]:
    """One stored reason: code, English message, and what `reason_text` needs to translate it."""
    return {
        "code": code,
        "message": MESSAGES[message_id] % params,
        "message_id": message_id,
        "params": params,
    }


def reason_text(stored: Mapping[str, Any]) -> str:
    """A stored reason in the active language; the stored (English) message if it cannot be."""
    template = MESSAGES.get(str(stored.get("message_id") or ""))
    params = stored.get("params")
    if template is not None and isinstance(params, dict):
        for text in (gettext(template), template):
            try:
                return text % params
            except (KeyError, TypeError, ValueError):
                continue
    return str(stored.get("message", ""))
