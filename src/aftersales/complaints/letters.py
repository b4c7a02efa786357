"""Answer letters (答复函): templates with `$name` placeholders, rendered in the customer's
language.

A template is checked when it is saved (admin) and again when it is rendered, so a letter never
goes out with a stray `$placeholder` in it. Values are inserted as they are: a customer's name
holding a `$` is not read as a placeholder.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.core.errors import ApplicationError

from .models import LetterTemplate

# The placeholders a template may use, with what each one becomes.
PLACEHOLDERS = {
    "customer_name": gettext_lazy("The customer's name"),
    "complaint_number": gettext_lazy("The complaint's case number"),
    "message": gettext_lazy("What the handler wrote for this customer"),
    "compensation": gettext_lazy("The approved compensation, line by line (may be empty)"),
    "company": gettext_lazy("The company's name"),
}

DEFAULT_LANGUAGE = "zh-hans"
LANGUAGES = ("zh-hans", "en")

# Used when the COMPANY_NAME setting is not set (a dict by language, or one string).
_COMPANY = {"zh-hans": "售后服务中心", "en": "the After-sales Service Centre"}


_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


@dataclass(frozen=True)
class Letter:
    code: str
    language: str
    subject: str
    body: str

    @property
    def text(self) -> str:
        """Subject and body as one text, the way the timeline and the e-mail keep it."""
        return f"{self.subject}\n\n{self.body}"


def placeholders_in(text: str) -> tuple[set[str], bool]:
    """The placeholder names used in `text`, and whether it has a `$` that is not one
    (write `$$` for a dollar sign)."""
    names: set[str] = set()
    invalid = False
    for match in Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if name:
            names.add(name)
        elif match.group("invalid") is not None:
            invalid = True
    return names, invalid


def letter_template_errors(*, subject: str, body: str) -> dict[str, str]:
    """Field errors of a template's subject and body: unknown placeholders, a bare `$`, an
    empty body. Empty when the template is fine."""
    errors: dict[str, str] = {}
    for field, text in (("subject", subject), ("body", body)):
        names, invalid = placeholders_in(text)
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            errors[field] = _("Unknown placeholder(s): %(names)s. Allowed: %(allowed)s.") % {
                "names": ", ".join(f"${n}" for n in unknown),
                "allowed": ", ".join(f"${n}" for n in PLACEHOLDERS),
            }
        elif invalid:
            errors[field] = _("A “$” that is not a placeholder must be written “$$”.")
    if not body.strip():
        errors["body"] = _("The letter needs a body.")
    return errors


def letter_language(preferred: str) -> list[str]:
    """Languages to try, best first: the customer's own, its primary subtag, then Chinese."""
    preferred = (preferred or "").strip().lower().replace("_", "-")
    candidates = [preferred, preferred.split("-")[0], DEFAULT_LANGUAGE]
    return [c for i, c in enumerate(candidates) if c and c not in candidates[:i]]


def company_name(language: str) -> str:
    configured = getattr(settings, "COMPANY_NAME", None)
    if isinstance(configured, str) and configured:
        return configured
    names = configured if isinstance(configured, dict) else _COMPANY
    return str(names.get(language) or names.get(DEFAULT_LANGUAGE) or _COMPANY[DEFAULT_LANGUAGE])


def letter_template_for(*, code: str, language: str) -> LetterTemplate:
    """The active template `code` in the best available language; `letter_missing` (409)."""
    candidates = letter_language(language)
    found = {
        t.language.lower(): t
        for t in LetterTemplate.objects.filter(code=code, is_active=True, language__in=candidates)
    }
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    raise ApplicationError(
        "letter_missing",
        _("There is no active letter template “%(code)s”.") % {"code": code},
        details={"template": code, "language": language},
        status=409,
    )


def letter_render(*, code: str, language: str, values: Mapping[str, str]) -> Letter:
    """Render template `code` for a customer speaking `language` (falling back to Chinese).

    `values` gives the placeholders (see `PLACEHOLDERS`); `$company` defaults to the company's
    name in the letter's language. A template that does not check out is `letter_invalid` (409).
    """
    template = letter_template_for(code=code, language=language)
    errors = letter_template_errors(subject=template.subject, body=template.body)
    if errors:
        raise ApplicationError(
            "letter_invalid",
            _("The letter template “%(code)s” cannot be used; correct it first.") % {"code": code},
            details=errors,
            status=409,
        )
    lang = template.language.lower()
    # An empty placeholder (no compensation, no message) leaves no gap of blank lines.
    filled = {name: "" for name in PLACEHOLDERS} | {"company": company_name(lang)} | dict(values)
    return Letter(
        code=code,
        language=lang,
        subject=Template(template.subject).substitute(filled).strip(),
        body=_BLANK_LINES.sub("\n\n", Template(template.body).substitute(filled)).strip(),
    )
