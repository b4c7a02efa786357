"""Session timeouts and the second-factor requirement of staff sessions."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

Handler = Callable[[HttpRequest], HttpResponseBase]


def session_security(get_response: Handler) -> Handler:
    """Idle and absolute timeouts of staff sessions (ASVS 7.3).

    A session idle for SESSION_IDLE_TIMEOUT, or SESSION_ABSOLUTE_TIMEOUT after sign-in, is
    signed out: pages redirect to the sign-in page with a message, the API answers 401
    `session_expired`. Requests with a bearer token and no session are not concerned.
    """
    from django.contrib import messages
    from django.contrib.auth import SESSION_KEY, logout
    from django.contrib.auth.views import redirect_to_login
    from django.contrib.messages.storage import default_storage
    from django.http import HttpResponse
    from django.utils.translation import gettext as _

    from aftersales.core import clock
    from aftersales.core.api import error_response

    from .sessions import session_expiry, session_keep_stored_hash, session_touch

    def expired(request: HttpRequest) -> HttpResponseBase:
        logout(request)
        message = _("Your session has expired. Please sign in again.")
        if request.path_info.startswith("/api/"):
            return error_response(request, 401, "session_expired", message)
        # The message middleware comes later and has not run: store the message ourselves.
        storage = default_storage(request)
        storage.add(messages.INFO, message)
        response: HttpResponseBase
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = redirect_to_login(request.get_full_path())["Location"]
        else:
            response = redirect_to_login(request.get_full_path())
        storage.update(response)
        return response

    def middleware(request: HttpRequest) -> HttpResponseBase:
        user_id = None
        if not request.user.is_authenticated and SESSION_KEY in request.session:
            # The session's user was disabled or its session hash no longer matches: drop it.
            request.session.flush()
        elif request.user.is_authenticated:
            now = clock.now()
            if session_expiry(request.session, now):
                return expired(request)
            session_touch(request.session, now)
            user_id = request.user.pk
        response = get_response(request)
        if user_id is not None:
            session_keep_stored_hash(request.session, user_id)
        return response

    return middleware


def mfa_required(get_response: Handler) -> Handler:
    """Staff pages and the session-authenticated API only after the second factor (ASVS 6.3).

    A signed-in session that has not completed MFA is sent to the MFA page (pages; HTMX requests
    get `HX-Redirect`) or answered 401 `mfa_required` (API). Only sign-in and sign-out, the MFA
    page itself, password reset, the language switch, static files, the token endpoint (which
    asks for a code itself) and the customers' survey page (no account involved) stay open. A
    request with a bearer token is no session request: the session's user is set aside so the
    API authenticates it by its token alone.
    """
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.shortcuts import redirect
    from django.urls import reverse
    from django.utils.http import urlencode
    from django.utils.translation import gettext as _

    from aftersales.core.api import error_response

    open_prefixes = (
        "/" + (settings.STATIC_URL or "static/").lstrip("/"),
        "/account/password-reset/",
        "/password-reset/",
        # The customers' survey page and its API (callbacks): public, they use no account.
        "/survey/",
        "/api/v1/surveys/",
    )

    def open_paths() -> set[str]:
        return {
            reverse("login"),
            reverse("logout"),
            reverse("accounts:mfa"),
            reverse("set_language"),
            reverse("api-v1:token_create"),
        }

    def middleware(request: HttpRequest) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated or getattr(user, "is_verified", lambda: False)():
            return get_response(request)
        path = request.path_info
        if path.startswith(open_prefixes) or path in open_paths():
            return get_response(request)
        mfa_url = reverse("accounts:mfa")
        if path.startswith("/api/"):
            if request.headers.get("Authorization", "").lower().startswith("bearer "):
                request.user = AnonymousUser()
                return get_response(request)
            return error_response(
                request,
                401,
                "mfa_required",
                _("Complete the second sign-in step (authenticator code) first."),
                {"url": mfa_url},
            )
        if request.method == "GET":
            mfa_url += "?" + urlencode({"next": request.get_full_path()})
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = mfa_url
            return response
        return redirect(mfa_url)

    return middleware
