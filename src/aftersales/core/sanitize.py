"""Rich text from outside (knowledge-base articles, inbound e-mail bodies) made safe to show.

Plain-text user content (case subjects and descriptions, notes, customer names) is never
treated as HTML: Django's autoescaping shows it as text. Only content that is meant to be
formatted goes through `sanitize_html`, which keeps an allowlist of harmless tags and drops
everything else: scripts, event handlers, styles, forms, frames, embedded objects and links to
anything but http(s) and mailto.
"""

import nh3

# Formatting a support article or an e-mail needs; nothing that can run code or restyle the page.
ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "strong",
        "b",
        "em",
        "i",
        "ul",
        "ol",
        "li",
        "a",
        "code",
        "pre",
        "blockquote",
        "h3",
        "h4",
        "table",
        "caption",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"}}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})

# nh3's cleaner is immutable once built, so one instance serves every thread.
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(ALLOWED_URL_SCHEMES),
    # A link opens no window that can reach back to this page and sends no referrer.
    link_rel="noopener noreferrer",
    # Relative links mean nothing in an e-mail and could point into the staff UI.
    url_relative="deny",
    strip_comments=True,
)


def sanitize_html(text: str) -> str:
    """Return `text` reduced to the allowed tags and attributes; safe to insert as HTML."""
    if not text:
        return ""
    return _CLEANER.clean(text)
