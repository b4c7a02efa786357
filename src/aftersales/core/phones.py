"""Phone number normalisation for caller recognition (客户辨识)."""

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from .errors import ApplicationError


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """Return the E.164 form of `raw` (`+8613800138000`), or raise `invalid_phone`.

    Accepts the forms numbers really arrive in: `+86 138 0013 8000`, `13800138000`,
    `138-0013-8000`, `0755-8888 6666`, `+852 5123 4567`, `008613800138000`.
    """
    text = (raw or "").strip()
    if not text:
        raise ApplicationError("invalid_phone", _("Phone number is empty."), status=422)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ApplicationError(
            "invalid_phone",
            _("%(value)r is not a phone number.") % {"value": raw},
            details={"phone": raw},
            status=422,
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ApplicationError(
            "invalid_phone",
            _("%(value)r is not a valid phone number.") % {"value": raw},
            details={"phone": raw},
            status=422,
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Human-readable form: national format at home, international abroad."""
    parsed = phonenumbers.parse(e164, None)
    home = phonenumbers.country_code_for_region(settings.DEFAULT_PHONE_REGION)
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, fmt)


def mask_phone(e164: str) -> str:
    """Masked for display: `+86 138****8000` shows the first three and last four digits."""
    parsed = phonenumbers.parse(e164, None)
    national = str(parsed.national_number)
    keep_head = 3 if len(national) >= 9 else 2
    hidden = max(len(national) - keep_head - 4, 2)
    return f"+{parsed.country_code} {national[:keep_head]}{'*' * hidden}{national[-4:]}"


def mask_email(email: str) -> str:
    """Masked for display: `z***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
