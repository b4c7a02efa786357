"""Staff accounts, teams, absences and API tokens. Roles are Django groups (see `roles.py`)."""

import hashlib
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


class Seniority(models.TextChoices):
    """How experienced a member of staff is; routing rules may ask for a minimum."""

    JUNIOR = "junior", _("Junior")
    SENIOR = "senior", _("Senior")
    EXPERT = "expert", _("Expert")


# Ascending; "at least senior" means senior or expert.
SENIORITY_ORDER: tuple[str, ...] = (Seniority.JUNIOR, Seniority.SENIOR, Seniority.EXPERT)


def seniorities_at_least(minimum: str) -> list[str]:
    """The seniority levels that satisfy `minimum` (all of them for a blank minimum)."""
    if not minimum:
        return list(SENIORITY_ORDER)
    return list(SENIORITY_ORDER[SENIORITY_ORDER.index(minimum) :])


def new_security_stamp() -> str:
    """A fresh random security stamp; changing it ends every session of the user."""
    return secrets.token_hex(16)


SESSION_HASH_SALT = "aftersales.accounts.User.session_auth_hash"


class User(AbstractUser):
    """A member of staff (客服人员). Customers are not users; they have the portal (later)."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    preferred_language = models.CharField(max_length=10, default="zh-hans")
    seniority = models.CharField(
        _("seniority"), max_length=10, choices=Seniority.choices, default=Seniority.JUNIOR
    )
    # The shift pattern the person works (排班); blank: the calendar named by the
    # DEFAULT_WORK_CALENDAR setting.
    work_calendar = models.ForeignKey(
        "core.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("working hours"),
    )
    # Off: the person has set themselves away and routing gives them no new cases.
    accepting_cases = models.BooleanField(_("accepting new cases"), default=True)
    # Work phone (E.164), for colleagues and a second-factor fallback; changed only after
    # re-entering the password.
    phone = models.CharField(_("work phone"), max_length=20, blank=True)
    # Part of the session hash: rotating it (`sessions_end`) ends every session of the user at
    # its next request, as a password change does.
    security_stamp = models.CharField(max_length=32, default=new_security_stamp, editable=False)

    def __str__(self) -> str:
        return self.display_name or self.username

    def _session_hash(self, secret: str | bytes | None = None) -> str:
        value = f"{self.password}\x00{self.security_stamp}"
        return salted_hmac(SESSION_HASH_SALT, value, secret=secret, algorithm="sha256").hexdigest()

    def get_session_auth_hash(self) -> str:
        """Django checks it on every request: a new password or security stamp ends sessions."""
        return self._session_hash()

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=fallback_secret)

    @property
    def label(self) -> str:
        return self.display_name or self.username


class Team(models.Model):
    """A team of the after-sales department: front-line desk, technical support, callback, ..."""

    class Kind(models.TextChoices):
        FRONTLINE = "frontline", _("Front-line desk")
        VIP = "vip", _("VIP desk")
        TECH_SUPPORT = "tech_support", _("Technical support")
        CALLBACK = "callback", _("Callback team")
        COMPLAINTS = "complaints", _("Complaints desk")
        REVIEW = "review", _("Complaint review group")
        FIELD = "field", _("Field service")
        OUTLET = "outlet", _("Service outlet")
        WAREHOUSE = "warehouse", _("Warehouse")

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    region = models.CharField(_("region"), max_length=100, blank=True)
    members = models.ManyToManyField(User, through="TeamMembership", related_name="teams")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user's place in a team; a supervisor's `is_lead` memberships are the teams they run."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    is_lead = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="accounts_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class ApiToken(models.Model):
    """Bearer token for other systems and the mobile app; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class Absence(models.Model):
    """A stretch of time a member of staff is away (请假/培训): routing gives them no cases.

    A cancelled absence is kept with who cancelled it, so the record of who was away stays true.
    """

    class Reason(models.TextChoices):
        LEAVE = "leave", _("Leave")
        SICK = "sick", _("Sick leave")
        TRAINING = "training", _("Training")
        OTHER = "other", _("Other")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at", "id"]
        permissions = [("plan_staff", "Can record absences and set working hours of staff")]
        indexes = [
            models.Index(
                fields=["user", "starts_at", "ends_at"],
                condition=models.Q(cancelled_at__isnull=True),
                name="accounts_absence_active",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="accounts_absence_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.reason} {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class ThrottleCounter(models.Model):
    """Failed attempts of one kind (sign-in, second factor, password reset, look-up) by one key.

    Keys are keyed hashes (blind index, purpose "throttle") of the account and/or the client
    address, so the table holds neither usernames nor addresses. One row per scope, kind and
    key; every process shares it, so limits hold across web workers. See `throttle.py`.
    """

    class Kind(models.TextChoices):
        PAIR = "pair", _("Account from one address")
        ACCOUNT = "account", _("Account from any address")
        ADDRESS = "address", _("Address, any account")

    scope = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=40)
    # Failures counted since `window_started_at`; the window restarts when it has passed.
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # Locks in a row without a quiet spell: each one lasts twice as long, up to the cap.
    lockouts = models.PositiveIntegerField(default=0)
    # The last success of a pair: an address the account has signed in from is trusted past
    # the broad (account-wide, address-wide) locks, so an attacker cannot lock the user out.
    last_success_at = models.DateTimeField(null=True, blank=True)
    touched_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "kind", "key"], name="accounts_throttle_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}/{self.kind} {self.key[:8]}…"
