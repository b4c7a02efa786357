"""Staff accounts, teams, and API tokens. Roles are Django groups (see `roles.py`)."""

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A member of staff (客服人员). Customers are not users; they have the portal (later)."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    preferred_language = models.CharField(max_length=10, default="zh-hans")

    def __str__(self) -> str:
        return self.display_name or self.username

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
