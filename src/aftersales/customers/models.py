"""The customer service file (客户服务档案): who the customer is and how to reach them.

Phone numbers, e-mail addresses and street addresses are encrypted at rest; exact-match look-ups
go through keyed HMAC blind indexes, so the database never reveals them.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.core.fields import EncryptedTextField
from aftersales.core.phones import mask_email, mask_phone


class Channel(models.TextChoices):
    """Contact channels, shared by preferences and case intake."""

    PHONE = "phone", _("Phone / call centre")
    EMAIL = "email", _("E-mail")
    WEB = "web", _("Web form")
    PORTAL = "portal", _("Customer portal")
    APP = "app", _("Mobile app / chat")
    WALK_IN = "walk_in", _("Walk-in at an outlet")
    ONSITE = "onsite", _("Onsite visit")


class Tier(models.TextChoices):
    """Customer value tier (客户价值分层)."""

    VIP = "vip", _("VIP (high value)")
    REGULAR = "regular", _("Regular")
    LOW = "low", _("Low value")


class Customer(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    number = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.PHONE
    )
    preferred_language = models.CharField(max_length=10, default="zh-hans")
    consent_contact = models.BooleanField(_("consents to be contacted"), default=True)
    notes = models.TextField(blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.REGULAR)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        permissions = [
            ("reveal_contact", "Can reveal a customer's full contact details"),
            ("merge_customer", "Can merge two customer records"),
            ("set_tier", "Can set a customer's value tier"),
        ]
        indexes = [models.Index(fields=["tier"], name="customers_tier")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(merged_into=models.F("pk")), name="customers_not_merged_self"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class ContactPoint(models.Model):
    """A phone number or e-mail address of a customer, encrypted, with its blind index."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = EncryptedTextField()  # E.164 phone or lower-cased e-mail
    lookup_hash = models.CharField(max_length=40, db_index=True)
    label = models.CharField(max_length=30, blank=True)  # mobile, home, office...
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "lookup_hash"], name="customers_contact_unique"
            ),
            # At most one primary phone and one primary e-mail per customer.
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=models.Q(is_primary=True),
                name="customers_contact_one_primary",
            ),
        ]
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.customer_id}"

    @property
    def masked(self) -> str:
        return mask_phone(self.value) if self.kind == self.Kind.PHONE else mask_email(self.value)


class Address(models.Model):
    """A postal address; the region is plain (for routing and reports), the street encrypted."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    province = models.CharField(_("province"), max_length=50)
    city = models.CharField(_("city"), max_length=50)
    district = models.CharField(_("district"), max_length=50, blank=True)
    street = EncryptedTextField(blank=True)
    postal_code = models.CharField(max_length=12, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "id"]
        indexes = [models.Index(fields=["province", "city"], name="customers_addr_region")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(is_default=True),
                name="customers_addr_one_default",
            )
        ]

    def __str__(self) -> str:
        return f"{self.province} {self.city} {self.district}".strip()

    @property
    def region(self) -> str:
        return " ".join(p for p in (self.province, self.city, self.district) if p)
