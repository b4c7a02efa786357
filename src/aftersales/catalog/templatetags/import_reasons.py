"""Template filter that shows a stored import rejection reason in the reader's language."""

from collections.abc import Mapping
from typing import Any

from django import template

from aftersales.catalog.reasons import reason_text

register = template.Library()


@register.filter
def import_reason(stored: Mapping[str, Any]) -> str:
    """`{{ reason|import_reason }}`: translated from message id and params, else as stored."""
    return reason_text(stored)
