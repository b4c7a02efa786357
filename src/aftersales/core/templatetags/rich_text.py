"""`{{ article.body|rich_text }}`: formatted content from outside, sanitised before display."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from aftersales.core.sanitize import sanitize_html

register = template.Library()


@register.filter(name="rich_text", is_safe=True)
def rich_text(value: object) -> SafeString:
    """Sanitise `value` with the rich-text allowlist and mark only the result safe."""
    # Safe to mark: the sanitiser's output holds only allowlisted tags and attributes.
    return mark_safe(sanitize_html("" if value is None else str(value)))  # nosec B308 B703
