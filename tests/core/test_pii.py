"""aftersales.core.pii: the registry of personal-data fields is complete and tells the truth."""

import pytest
from django.apps import apps
from django.db import connection, models

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.services import case_contact_log, case_open
from aftersales.core import crypto
from aftersales.core.fields import BlindIndexField, EncryptedTextField
from aftersales.core.pii import PII_FIELDS, pii_fields_of
from aftersales.customers.models import Customer
from aftersales.customers.services import customer_create

# Encrypted columns deliberately outside the registry, and why.
NOT_REGISTERED = {
    "privacy.Consent.note": "erased by the privacy app itself, with the consent kept as evidence",
    "integrations.Webhook.url": "a secret of an integration, not personal data",
    "integrations.Webhook.secret": "a secret of an integration, not personal data",
}
# Names of fields that hold personal data wherever they sit on a customer's records.
LOOKS_PERSONAL = {"name", "company_name", "notes", "street", "value", "phone", "email"}
LOOKS_PERSONAL |= {"description", "solution_notes", "body"}


def _label(model: type[models.Model], field: str) -> str:
    return f"{model._meta.label}.{field}"


def _leads_to_customer(model: type[models.Model], depth: int = 0) -> bool:
    if model is Customer:
        return True
    return depth < 2 and any(
        isinstance(f, models.ForeignKey)
        and f.related_model not in (model, "self")
        and _leads_to_customer(f.related_model, depth + 1)  # type: ignore[arg-type]
        for f in model._meta.concrete_fields
    )


@pytest.mark.django_db
def test_every_registered_field_exists_and_is_protected_as_registered() -> None:
    for entry in PII_FIELDS:
        model = apps.get_model(entry.model)
        field = model._meta.get_field(entry.field)
        assert isinstance(field, EncryptedTextField) == entry.encrypted, entry
        # The path to the owner resolves (export and erasure filter by it).
        owner = f"{entry.customer_path}__pk" if entry.customer_path else "pk"
        model._default_manager.filter(**{owner: 1}).exists()


def test_every_encrypted_column_is_registered_or_explained() -> None:
    registered = {f"{f.model}.{f.field}" for f in PII_FIELDS}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                label = _label(model, field.name)
                assert label in registered or label in NOT_REGISTERED, label


def test_fields_that_look_personal_are_registered() -> None:
    registered = {f"{f.model}.{f.field}" for f in PII_FIELDS} | set(NOT_REGISTERED)
    for model in apps.get_models():
        if not _leads_to_customer(model):
            continue
        for field in model._meta.concrete_fields:
            if field.name in LOOKS_PERSONAL and isinstance(
                field, models.TextField | models.CharField
            ):
                if isinstance(field, BlindIndexField):
                    continue
                assert _label(model, field.name) in registered, _label(model, field.name)


def test_names_are_indexed_for_exact_search() -> None:
    indexes = {
        f.name: (f.source, f.purpose)
        for f in Customer._meta.concrete_fields
        if isinstance(f, BlindIndexField)
    }
    assert indexes == {
        "name_index": ("name", "name"),
        "name_leading_index": ("name", "name_leading"),
    }
    assert [f.field for f in pii_fields_of("customers.Customer")][:1] == ["name"]


def _return_visit_with_free_text(customer: Customer, case: Case, agent: User) -> None:
    from aftersales.callbacks.models import ReturnVisit, Survey, VisitAttempt
    from aftersales.core import clock

    now = clock.now()
    visit = ReturnVisit.objects.create(
        kind="follow_up",
        reason="sample",
        customer=customer,
        case=case,
        due_at=now,
        next_attempt_at=now,
        created_at=now,
    )
    VisitAttempt.objects.create(
        visit=visit, result="reached", at=now, by=agent, note="李伟说已修好"
    )
    Survey.objects.create(
        customer=customer,
        case=case,
        visit=visit,
        method="phone",
        created_at=now,
        comment="李伟满意",
    )


def _complaint_with_free_text(customer: Customer, agent: User) -> None:
    from aftersales.complaints.models import (
        ApprovalLevel,
        CompensationProposal,
        Complaint,
        ComplaintReview,
    )
    from aftersales.core import clock

    now = clock.now()
    case, _ = case_open(
        actor=agent, customer=customer, channel="phone", subject="投诉", kind="complaint"
    )
    complaint = Complaint.objects.create(case=case, nature="other", received_at=now, updated_at=now)
    ComplaintReview.objects.create(
        complaint=complaint,
        requested_at=now,
        findings="李伟两次未获回电",
        recommendation="向李伟致歉",
    )
    CompensationProposal.objects.create(
        complaint=complaint,
        total=0,
        reason="李伟要求退款",
        proposed_by=agent,
        proposed_at=now,
        required_level=ApprovalLevel.objects.get(rank=1),
    )


@pytest.mark.django_db
def test_registered_encrypted_fields_hold_ciphertext_in_the_database(agent: User) -> None:
    customer = customer_create(
        actor=agent,
        name="李伟",
        phones=["13800138000"],
        addresses=[{"province": "广东", "city": "深圳", "street": "科技园路 1 号"}],
        notes="只在工作日联系",
    )
    case, _ = case_open(
        actor=agent, customer=customer, channel="phone", subject="冰箱", description="李伟来电"
    )
    case_contact_log(actor=agent, case=case, channel="phone", direction="out", body="已回电李伟")
    Case.objects.filter(pk=case.pk).update(solution_notes="李伟的冰箱已修好")
    _return_visit_with_free_text(customer, case, agent)
    _complaint_with_free_text(customer, agent)
    for entry in PII_FIELDS:
        if not entry.encrypted:
            continue
        model = apps.get_model(entry.model)
        column = model._meta.get_field(entry.field).column
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "{column}" FROM "{model._meta.db_table}" WHERE "{column}" <> \'\''
            )
            stored = [row[0] for row in cursor.fetchall()]
        assert stored, entry
        assert all(crypto.looks_encrypted(v) for v in stored), entry
        assert not any("李伟" in v or "13800138000" in v for v in stored), entry
