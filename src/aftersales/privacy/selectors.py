"""Reads of the privacy records: consent in force, consent history, the privacy overview."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from aftersales.cases.models import OPEN_STATUSES, Case
from aftersales.customers.models import Customer

from .models import CONTACT_PURPOSES, Consent, ConsentSource, ErasureRecord, Purpose, RetentionRule


def customer_record_ids(customer: Customer) -> list[int]:
    """The customer's record and the duplicates merged into it: one person, one history."""
    return [customer.pk, *customer.merged_from.order_by("pk").values_list("pk", flat=True)]


def consent_default(customer: Customer, purpose: str) -> bool:
    """What holds while nothing was recorded for a purpose.

    Contact about the customer's own cases follows the consent box of the customer file
    (`Customer.consent_contact`, ticked by default when the file is opened: service contact is
    needed to perform the service). Surveys and marketing are opt-in: no until granted.
    """
    return customer.consent_contact if purpose in CONTACT_PURPOSES else False


def consent_in_force(customer: Customer, purpose: str) -> bool:
    """May the customer's data be used for `purpose` now? The latest record decides, across
    the customer's record and those merged into it; without one, `consent_default`. After
    erasure nothing is in force: the records stay as evidence, the person is gone."""
    if ErasureRecord.objects.filter(customer=customer).exists():
        return False
    latest = (
        Consent.objects.filter(customer_id__in=customer_record_ids(customer), purpose=purpose)
        .order_by("-recorded_at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return consent_default(customer, purpose) if latest is None else latest


@dataclass(frozen=True)
class ConsentState:
    """One purpose as it stands: in force or not, and the record that decided it (if any)."""

    purpose: str
    label: str
    granted: bool
    record: Consent | None


def consent_states(customer: Customer) -> list[ConsentState]:
    """Every purpose with its value in force (none after erasure), in the order of `Purpose`."""
    latest: dict[str, Consent] = {}
    for consent in consent_history(customer).order_by("recorded_at", "id"):
        latest[consent.purpose] = consent
    erased = ErasureRecord.objects.filter(customer=customer).exists()
    return [
        ConsentState(
            purpose=str(p),
            label=str(p.label),
            granted=not erased
            and (latest[p].granted if p in latest else consent_default(customer, p)),
            record=latest.get(p),
        )
        for p in Purpose
    ]


def consent_history(customer: Customer) -> QuerySet[Consent]:
    """All consent records of the customer (and merged records), newest first."""
    return (
        Consent.objects.filter(customer_id__in=customer_record_ids(customer))
        .select_related("recorded_by")
        .order_by("-recorded_at", "-id")
    )


def open_case_numbers(customer: Customer) -> list[str]:
    """Numbers of the customer's open cases (erasure waits until there are none)."""
    return list(
        Case.objects.filter(customer_id__in=customer_record_ids(customer), status__in=OPEN_STATUSES)
        .order_by("created_at", "id")
        .values_list("number", flat=True)
    )


def erasure_of(customer: Customer) -> ErasureRecord | None:
    """The erasure of this customer's personal data, if it was erased."""
    return ErasureRecord.objects.filter(customer=customer).first()


def erasure_records() -> QuerySet[ErasureRecord]:
    """Erasures, newest first."""
    return ErasureRecord.objects.select_related("customer", "actor").order_by("-erased_at", "-id")


def retention_rules() -> QuerySet[RetentionRule]:
    return RetentionRule.objects.order_by("kind")


def retention_last_run() -> dt.datetime | None:
    """When retention last ran (any rule)."""
    return (
        RetentionRule.objects.filter(last_run_at__isnull=False)
        .order_by("-last_run_at")
        .values_list("last_run_at", flat=True)
        .first()
    )


@dataclass(frozen=True)
class PrivacyPanel:
    """What the customer page shows about consent and erasure."""

    states: list[ConsentState]
    history: list[Consent]
    erasure: ErasureRecord | None
    purposes: list[tuple[str, str]]
    sources: list[tuple[str, str]]


def customer_privacy_panel(customer: Customer, *, history: int = 10) -> PrivacyPanel:
    """The consents in force, the latest records and the erasure (if any) of a customer."""
    return PrivacyPanel(
        states=consent_states(customer),
        history=list(consent_history(customer)[:history]),
        erasure=erasure_of(customer),
        purposes=[(str(v), str(label)) for v, label in Purpose.choices],
        sources=[(str(v), str(label)) for v, label in ConsentSource.choices],
    )
