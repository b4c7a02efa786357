"""Multi-factor authentication of staff (多因素认证): an authenticator app and recovery codes.

Every member of staff has one confirmed TOTP device (`django_otp.plugins.otp_totp`, RFC 6238,
six digits every 30 seconds) and a set of single-use recovery codes (one `StaticDevice` whose
`StaticToken`s are the codes). django-otp keeps the verified device in the session; the
`mfa_required` middleware lets nothing but the sign-in pages through until it is there.

Recovery codes carry 120 random bits, so what is stored is a plain SHA-256 digest of each
(ASVS 6.5.2 allows a standard hash from 112 bits); the code itself is shown once. A TOTP code
is accepted once (django-otp remembers the last time step used) and a used recovery code is
deleted. Changing the second factor (a new authenticator, new recovery codes) needs the
password entered again within `REAUTH_MAX_AGE` seconds, ends the user's other sessions and
writes an audit row, as does every refused code.
"""

import base64
import hashlib
import re
import secrets
import time

import segno
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import verify_token
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.services import audit_record

from . import throttle
from .models import User
from .permissions import require_perm
from .services import sessions_end

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_CHARS = 24  # base32: 120 bits
RECOVERY_DIGEST_CHARS = 16  # what StaticToken.token holds
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"
SESSION_REAUTH_KEY = "reauth_at"
THROTTLE_SCOPE = "mfa"

_TOTP_FORMAT = re.compile(r"^\d{6}$")


# --------------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------------


def normalise_code(raw: str) -> str:
    """What the person typed, without spaces and dashes, in lower case."""
    return re.sub(r"[\s-]", "", raw).lower()


def recovery_code_digest(code: str) -> str:
    """The stored form of a recovery code (the code as typed, normalised first)."""
    digest = hashlib.sha256(normalise_code(code).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:RECOVERY_DIGEST_CHARS]


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_CHARS * 5 // 8)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_CHARS, 4))


def totp_secret(device: TOTPDevice) -> str:
    """The device's secret in base32, for typing into an authenticator app by hand."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URI as an inline SVG QR code (no inline style: CSP-safe)."""
    svg: str = segno.make(device.config_url, error="m").svg_inline(scale=4, border=2)
    return svg


def totp_next_code(device: TOTPDevice, *, at: float | None = None) -> str | None:
    """The code `device` accepts now (this time step's, else the next one's), or None.

    For the DEBUG-only `otp_code` command and the tests: a code that was already used once is
    refused, so after a sign-in in this time step it moves on to the next one, which the
    device's tolerance accepts too.
    """
    now = time.time() if at is None else at
    current = int((now - device.t0) // device.step) + device.drift
    for t in range(current, current + device.tolerance + 1):
        if t > device.last_t:
            totp = TOTP(device.bin_key, device.step, device.t0, device.digits, 0)
            totp.time = device.t0 + t * device.step
            return f"{totp.token():0{device.digits}d}"
    return None


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------


def mfa_totp_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, if enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def mfa_is_enrolled(user: User) -> bool:
    """Whether the user has a confirmed authenticator."""
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def mfa_recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the user has."""
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def reauth_is_recent(session: SessionBase) -> bool:
    """Whether the password was entered again in this session within REAUTH_MAX_AGE seconds."""
    stamp = session.get(SESSION_REAUTH_KEY)
    if not isinstance(stamp, int | float):
        return False
    age = clock.now().timestamp() - stamp
    return 0 <= age <= int(settings.REAUTH_MAX_AGE)


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------


def _record_failure(*, user: User, ip: str, step: str) -> None:
    """Count a refused code for the throttle and write the audit row (outside any rollback)."""
    throttle.throttle_failure(scope=THROTTLE_SCOPE, account=user.username, ip=ip)
    with transaction.atomic():
        audit_record(
            actor=user,
            action="mfa.failed",
            entity="user",
            entity_id=user.pk,
            data={"step": step},
            ip=ip,
        )


def _refuse_code() -> ApplicationError:
    return ApplicationError(
        "invalid_otp", _("That code is not valid. Enter the current code."), status=401
    )


def mfa_enrolment_start(*, user: User, pending_id: int | None) -> TOTPDevice:
    """The unconfirmed authenticator this session is setting up (`pending_id`), or a new one.

    A set-up belongs to the session that started it: a reload shows the same secret (the app
    may have scanned it already), but another session, perhaps someone else who knows the
    password, never sees it; starting a new one discards any other unconfirmed device. A
    confirmed device, if any, stays in force until the new one is confirmed.
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if pending_id is not None:
            pending = TOTPDevice.objects.filter(pk=pending_id, user=user, confirmed=False).first()
            if pending is not None:
                return pending
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
        return device


def _recovery_codes_issue(user: User) -> list[str]:
    """Replace the user's recovery codes with a new set; returns the codes in the clear."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=recovery_code_digest(code)) for code in codes]
    )
    return codes


def _require_recent_reauth(reauthenticated: bool) -> None:
    if not reauthenticated:
        raise ApplicationError(
            "reauth_required",
            _("Enter your password again to change your sign-in settings."),
            status=403,
        )


def mfa_enrolment_confirm(
    *,
    user: User,
    device: TOTPDevice,
    code: str,
    ip: str,
    reauthenticated: bool,
    keep_session_key: str | None,
) -> list[str]:
    """Confirm the pending authenticator with a code from it; returns new recovery codes.

    The first enrolment needs only the signed-in password; replacing a confirmed
    authenticator ("mfa.reset") needs `reauthenticated` (password entered again recently).
    The old authenticator and recovery codes are removed, and every other session of the
    user ends.
    """
    if device.user_id != user.pk or device.confirmed:
        raise ApplicationError(
            "invalid_device", _("This set-up has expired. Start again."), status=409
        )
    replacing = mfa_is_enrolled(user)
    if replacing:
        _require_recent_reauth(reauthenticated)
    throttle.throttle_guard(scope=THROTTLE_SCOPE, account=user.username, ip=ip)
    code = normalise_code(code)
    ok = bool(_TOTP_FORMAT.match(code)) and verify_token(user, device.persistent_id, code)
    if not ok:
        _record_failure(user=user, ip=ip, step="enrolment")
        raise _refuse_code()
    throttle.throttle_success(scope=THROTTLE_SCOPE, account=user.username, ip=ip)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        device.confirmed = True
        codes = _recovery_codes_issue(user)
        audit_record(
            actor=user,
            action="mfa.reset" if replacing else "mfa.enrolled",
            entity="user",
            entity_id=user.pk,
            data={"device": device.persistent_id, "recovery_codes": len(codes)},
            ip=ip,
        )
        sessions_end(user=user, keep_session_key=keep_session_key, reason="mfa_changed")
    return codes


def mfa_verify(*, user: User, code: str, ip: str) -> Device:
    """The device that accepts `code` (a current TOTP code or an unused recovery code).

    Refused codes are counted (throttle scope "mfa") and audited ("mfa.failed"); a used
    recovery code is gone.
    """
    totp = mfa_totp_device(user)
    if totp is None:
        raise ApplicationError(
            "mfa_required",
            _("Set up the authenticator app in the staff web pages first."),
            details={"enrolled": False},
            status=401,
        )
    throttle.throttle_guard(scope=THROTTLE_SCOPE, account=user.username, ip=ip)
    code = normalise_code(code)
    # Six digits are a TOTP code, anything else a recovery code: each is tried on its own
    # device only, so the device's record of failures stays true.
    device: Device | None
    if _TOTP_FORMAT.match(code):
        device, token = totp, code
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).first()
        token = recovery_code_digest(code)
    verified = device is not None and verify_token(user, device.persistent_id, token)
    if not verified or device is None:
        _record_failure(user=user, ip=ip, step="verify")
        raise _refuse_code()
    throttle.throttle_success(scope=THROTTLE_SCOPE, account=user.username, ip=ip)
    return device


def mfa_recovery_regenerate(
    *, user: User, ip: str, reauthenticated: bool, keep_session_key: str | None
) -> list[str]:
    """Replace the user's recovery codes with ten new ones (the old set stops working).

    Needs the password entered again recently; ends the user's other sessions.
    """
    _require_recent_reauth(reauthenticated)
    if not mfa_is_enrolled(user):
        raise ApplicationError("mfa_required", _("Set up the authenticator app first."), status=409)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        codes = _recovery_codes_issue(user)
        audit_record(
            actor=user,
            action="mfa.recovery_regenerated",
            entity="user",
            entity_id=user.pk,
            data={"recovery_codes": len(codes)},
            ip=ip,
        )
        sessions_end(user=user, keep_session_key=keep_session_key, reason="mfa_changed")
    return codes


def mfa_reauthenticate(*, request: HttpRequest, user: User, password: str) -> None:
    """Check the password again and note the time in the session (`reauth_is_recent`).

    Asked before changes to how one signs in (the second factor) and to one's contact details.

    Wrong passwords count against the sign-in throttle like the login form's.
    """
    ip = throttle.client_ip(request)
    throttle.throttle_guard(scope="login", account=user.username, ip=ip)
    again = authenticate(request, username=user.username, password=password)
    if again is None or again.pk != user.pk:
        throttle.throttle_failure(scope="login", account=user.username, ip=ip)
        raise ApplicationError("invalid_credentials", _("Wrong password."), status=401)
    throttle.throttle_success(scope="login", account=user.username, ip=ip)
    request.session[SESSION_REAUTH_KEY] = clock.now().timestamp()


def mfa_device_install(*, user: User, key_hex: str, source: str) -> TOTPDevice:
    """Give `user` a confirmed authenticator with a known secret (the demo data set).

    Replaces any authenticator the user had; recovery codes are left alone.
    """
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, key=key_hex, confirmed=True)
        device.full_clean()
        device.save()
        audit_record(
            actor=None,
            action="mfa.enrolled",
            entity="user",
            entity_id=user.pk,
            data={"device": device.persistent_id, "source": source},
        )
        return device


def mfa_reset_by_administrator(*, actor: User, user: User) -> None:
    """Remove `user`'s authenticator and recovery codes (a lost phone), as an administrator.

    The person must enrol a new authenticator at their next sign-in; every session of theirs
    ends now, and the reset is audited with the administrator as the actor. Nobody resets their
    own second factor this way: that goes through re-authentication on their security page.
    """
    require_perm(actor, "accounts.change_user")
    if actor.pk == user.pk:
        raise ApplicationError(
            "own_account", _("Replace your own authenticator on your security page."), status=409
        )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
        audit_record(
            actor=actor,
            action="mfa.reset_by_administrator",
            entity="user",
            entity_id=user.pk,
            data={"rows_removed": removed},
        )
        sessions_end(user=user, reason="mfa_reset", actor=actor)
