"""Search terms kept out of URLs: a page posts the term, the session keeps it under an opaque id.

A phone number, e-mail address or name in a query string ends up in access logs, proxy logs,
browser history and `Referer` headers. Pages therefore POST their searches; the term is stored
in the user's session, encrypted with the field key (sessions live in the database too), under
a random id, and only that id travels in links (pagination, "create customer" and the like) and
in the URL the browser shows. Ids are per session, so a copied link reveals nothing and works
for nobody else; the newest `KEEP` searches of a session are kept.
"""

import secrets
from typing import Any

from django.http import HttpRequest

from . import crypto

SESSION_KEY = "searches"
KEEP = 20


def search_store(request: HttpRequest, *, kind: str, term: str) -> str:
    """Remember `term` (of `kind`, e.g. "phone") for this session; its opaque id."""
    searches: dict[str, Any] = dict(request.session.get(SESSION_KEY, {}))
    search_id = secrets.token_urlsafe(9)
    searches[search_id] = {"kind": kind, "term": crypto.encrypt(term)}
    # Dicts keep insertion order: the oldest searches go first.
    request.session[SESSION_KEY] = dict(list(searches.items())[-KEEP:])
    return search_id


def search_term(request: HttpRequest, search_id: str | None, *, kind: str) -> str:
    """The term stored under `search_id` for `kind`, or "" (unknown, expired or another kind)."""
    entry = request.session.get(SESSION_KEY, {}).get(search_id or "")
    if not isinstance(entry, dict) or entry.get("kind") != kind:
        return ""
    try:
        return crypto.decrypt(str(entry.get("term", "")))
    except crypto.DecryptionError:
        return ""  # written under a key that has since been removed: search again
