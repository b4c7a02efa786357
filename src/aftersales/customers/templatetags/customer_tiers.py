"""Template filters of the value tiers: a tier move's reason in the reader's language."""

from django import template

from aftersales.customers.models import TierChange
from aftersales.customers.selectors import tier_change_text

register = template.Library()


@register.filter
def tier_change_reason(change: TierChange) -> str:
    """`{{ change|tier_change_reason }}`: why the customer moved, from the stable code."""
    return tier_change_text(change)
