"""Session lifetime of staff sign-ins: when it began and when it was last used.

The keys live in the session itself (whatever the session engine), so any web process can
check them. `middleware.session_security` ends a session that has been idle for
SESSION_IDLE_TIMEOUT or has lasted SESSION_ABSOLUTE_TIMEOUT since sign-in.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from aftersales.core import clock

# ISO timestamps: when the person signed in and when the session was last used.
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"

# Last use is written at most this often, so a page's burst of HTMX requests writes once.
SEEN_PRECISION = dt.timedelta(minutes=1)


def session_time(session: SessionBase, key: str) -> dt.datetime | None:
    """A timestamp stored in the session, or None when absent or unreadable."""
    raw = session.get(key)
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def session_signed_in(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """`user_logged_in` receiver: the session's lifetime starts now."""
    if request is None or not hasattr(request, "session"):
        return
    now = clock.now().isoformat()
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now


def session_expiry(session: SessionBase, now: dt.datetime) -> str:
    """Why the signed-in session has ended ("idle", "absolute"), or "" while it is alive."""
    signed_in = session_time(session, SIGNED_IN_AT)
    seen = session_time(session, SEEN_AT)
    if signed_in is not None and now - signed_in >= dt.timedelta(
        seconds=settings.SESSION_ABSOLUTE_TIMEOUT
    ):
        return "absolute"
    if seen is not None and now - seen >= dt.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT):
        return "idle"
    return ""


def session_touch(session: SessionBase, now: dt.datetime) -> None:
    """Record use of the session (at minute precision; starts the clock of older sessions)."""
    if session_time(session, SIGNED_IN_AT) is None:
        session[SIGNED_IN_AT] = now.isoformat()
    seen = session_time(session, SEEN_AT)
    if seen is None or now - seen >= SEEN_PRECISION:
        session[SEEN_AT] = now.isoformat()


def session_keep_stored_hash(session: SessionBase, user_id: Any) -> None:
    """Do not overwrite a session hash that `sessions_end(keep_session_key=...)` renewed.

    That service renews the stored copy of the kept session, but the request that called it
    holds the old hash in memory and, having modified the session, would save it over the new
    one and end the session after all. Only a hash valid for the user now is taken over.
    """
    if not session.modified or not session.session_key or HASH_SESSION_KEY not in session:
        return
    from .models import User

    user = User.objects.filter(pk=user_id).only("password", "security_stamp").first()
    if user is None:
        return
    current = user.get_session_auth_hash()
    if session[HASH_SESSION_KEY] == current:
        return
    if session.__class__(session.session_key).get(HASH_SESSION_KEY) == current:
        session[HASH_SESSION_KEY] = current
