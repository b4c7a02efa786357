"""Normal forms of contact values: E.164 phones, lower-cased e-mails, and their blind index;
and the look-up of an encrypted name by its blind indexes.

Shared by the services (which store contacts) and the selectors (which look them up), so a
number or a name is always hashed exactly as it was stored.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils.translation import gettext as _

from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.core.names import name_key
from aftersales.core.phones import normalize_phone

from .models import ContactPoint


def phone_e164(raw: str) -> str:
    """E.164 form of a phone number; garbage is a 422 `invalid_phone` (bad input, not state)."""
    try:
        return normalize_phone(raw)
    except ApplicationError as exc:
        raise ApplicationError(exc.code, exc.message, details=exc.details, status=422) from exc


def email_normalize(raw: str) -> str:
    """Lower-cased, validated e-mail address, or a 422 `invalid_email`."""
    email = (raw or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(
            "invalid_email",
            _("%(value)r is not an e-mail address.") % {"value": raw},
            details={"email": raw},
            status=422,
        ) from exc
    return email


def contact_lookup_hash(*, kind: str, value: str) -> str:
    """Blind index of a normalised contact, keyed by kind: a phone never matches an e-mail."""
    return blind_index(value, purpose=kind)


def contact_normalize(*, kind: str, raw: str) -> tuple[str, str]:
    """(normalised value, blind index) of a phone number or e-mail address."""
    if kind == ContactPoint.Kind.PHONE:
        value = phone_e164(raw)
        return value, contact_lookup_hash(kind=kind, value=value)
    if kind == ContactPoint.Kind.EMAIL:
        value = email_normalize(raw)
        return value, contact_lookup_hash(kind=kind, value=value)
    raise ApplicationError(
        "invalid_contact_kind",
        _("Unknown contact kind %(value)r.") % {"value": kind},
        details={"kind": kind},
        status=422,
    )


def customer_name_condition(text: str, *, prefix: str = "") -> Q:
    """Customers whose name is exactly `text`, or whose surname (leading name part) is `text`.

    Both compare blind indexes (see `core.names`): no partial or substring match. `prefix`
    reaches the customer through a relation (e.g. ``"customer__"`` from a case).
    """
    key = name_key(text)
    if not key:
        return Q(pk__in=[])
    return Q(**{f"{prefix}name_index": blind_index(key, purpose="name")}) | Q(
        **{f"{prefix}name_leading_index": blind_index(key, purpose="name_leading")}
    )
