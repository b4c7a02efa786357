"""Tests of aftersales.privacy.services: consent, export, erasure and retention."""

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.core.pii import PII_FIELDS
from aftersales.core.services import audit_record
from aftersales.customers.models import Address, ContactPoint, Customer
from aftersales.customers.selectors import customers_by_phone
from aftersales.customers.services import customer_update
from aftersales.notifications.models import Notification
from aftersales.privacy import services
from aftersales.privacy.models import (
    Consent,
    ConsentSource,
    ErasureReason,
    ErasureRecord,
    Purpose,
    RetentionKind,
    RetentionRule,
)
from aftersales.privacy.selectors import consent_in_force
from tests import factories

from .conftest import PHONE, PHONE_E164

pytestmark = pytest.mark.django_db


def _raw_rows(table: str) -> str:
    """Every cell of a table as the database stores it, in one string."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # fixed table names only
        return " ".join(str(cell) for row in cursor.fetchall() for cell in row)


class TestConsentRecord:
    def test_appends_history_and_audits(self, agent: User, customer: Customer) -> None:
        first = services.consent_record(
            actor=agent,
            customer=customer,
            purpose=Purpose.MARKETING,
            granted=True,
            source=ConsentSource.OUTLET,
            note="signed form 2026-114",
        )
        second = services.consent_record(
            actor=agent,
            customer=customer,
            purpose=Purpose.MARKETING,
            granted=False,
            source=ConsentSource.PHONE,
        )

        assert consent_in_force(customer, Purpose.MARKETING) is False
        assert list(Consent.objects.filter(purpose="marketing").order_by("id")) == [first, second]
        assert Consent.objects.get(pk=first.pk).note == "signed form 2026-114"
        assert "signed form" not in _raw_rows("privacy_consent")  # encrypted at rest
        audit = AuditEvent.objects.filter(action="privacy.consent_recorded").order_by("id").last()
        assert audit is not None and audit.customer_id == customer.pk
        assert audit.data == {
            "consent_id": second.pk,
            "purpose": "marketing",
            "granted": False,
            "source": "phone",
        }

    def test_records_are_never_edited(self, agent: User, customer: Customer) -> None:
        consent = services.consent_record(
            actor=agent, customer=customer, purpose="surveys", granted=True, source="web"
        )
        consent.granted = False
        with pytest.raises(ValueError):
            consent.save()

    def test_bad_purpose_or_source_is_refused_and_nothing_saved(
        self, agent: User, customer: Customer
    ) -> None:
        with pytest.raises(ApplicationError) as bad_purpose:
            services.consent_record(
                actor=agent, customer=customer, purpose="spam", granted=True, source="phone"
            )
        with pytest.raises(ApplicationError) as bad_source:
            services.consent_record(
                actor=agent, customer=customer, purpose="surveys", granted=True, source="fax"
            )

        assert (bad_purpose.value.code, bad_purpose.value.status_code) == ("invalid_purpose", 422)
        assert bad_source.value.code == "invalid_source"
        assert not Consent.objects.exists()

    def test_needs_the_right_to_change_customers(
        self, technician: User, customer: Customer
    ) -> None:
        with pytest.raises(PermissionDenied):
            services.consent_record(
                actor=technician, customer=customer, purpose="surveys", granted=True, source="web"
            )
        assert not Consent.objects.exists()

    def test_withdrawing_every_contact_channel_turns_the_file_box_off(
        self, agent: User, customer: Customer
    ) -> None:
        services.consent_record(
            actor=agent, customer=customer, purpose="contact_sms", granted=False, source="phone"
        )
        customer.refresh_from_db()
        # The first channel record writes the box's value for the other channels.
        baseline = Consent.objects.filter(source=ConsentSource.CUSTOMER_FILE)
        assert sorted(baseline.values_list("purpose", "granted")) == [
            ("contact_email", True),
            ("contact_phone", True),
        ]
        assert customer.consent_contact is True
        assert consent_in_force(customer, "contact_phone") is True

        for purpose in ("contact_phone", "contact_email"):
            services.consent_record(
                actor=agent, customer=customer, purpose=purpose, granted=False, source="phone"
            )
        customer.refresh_from_db()
        assert customer.consent_contact is False

        services.consent_record(
            actor=agent, customer=customer, purpose="contact_phone", granted=True, source="phone"
        )
        customer.refresh_from_db()
        assert customer.consent_contact is True
        assert consent_in_force(customer, "contact_email") is False

    def test_turning_the_file_box_records_every_contact_channel(
        self, agent: User, customer: Customer
    ) -> None:
        customer_update(actor=agent, customer=customer, consent_contact=False)

        assert [consent_in_force(customer, p) for p in services.CONTACT_PURPOSES] == [False] * 3
        assert Consent.objects.filter(source="customer_file", granted=False).count() == 3


class TestSubjectExport:
    def test_holds_everything_in_the_clear_and_is_audited(
        self, manager: User, agent: User, customer: Customer, closed_case: Case
    ) -> None:
        factories.unit(customer=customer)
        services.consent_record(
            actor=agent, customer=customer, purpose="surveys", granted=True, source="web"
        )

        document = json.loads(services.subject_export(actor=manager, customer_id=customer.pk))

        assert document["format"] == "aftersales.subject-export/1"
        assert document["customers"][0]["name"] == "李伟"
        assert document["customers"][0]["notes"] == "prefers calls after 6pm"
        assert {c["value"] for c in document["contacts"]} == {PHONE_E164, "li.wei@example.com"}
        assert "lookup_hash" not in document["contacts"][0]
        assert document["addresses"][0]["street"] == "科技园路1号"
        assert len(document["units"]) == 1 and document["units"][0]["purchase_amount"] == "3999.00"
        [case] = document["cases"]
        assert case["number"] == closed_case.number
        assert case["description"].startswith("李伟 says")
        assert [e["body"] for e in case["events"]] == ["call from 13800138000"]
        assert [c["purpose"] for c in document["consents"]] == ["surveys"]
        assert "customer.created" in {a["action"] for a in document["audit"]}
        export = AuditEvent.objects.get(action="privacy.export")
        assert (export.actor, export.customer_id, export.entity_id) == (
            manager,
            customer.pk,
            customer.pk,
        )
        assert export.data["counts"]["contacts"] == 2
        assert PHONE_E164 not in json.dumps(export.data)

    def test_holds_the_complaints_return_visits_and_surveys(
        self, manager: User, customer: Customer, closed_case: Case
    ) -> None:
        from aftersales.callbacks.models import ReturnVisit, Survey, VisitAttempt
        from aftersales.complaints.models import Complaint, ComplaintReview

        now = clock.now()
        complaint_case = factories.case(customer, subject="投诉：上门太慢")
        complaint = Complaint.objects.create(
            case=complaint_case,
            related_case=closed_case,
            nature="slow_response",
            received_at=now,
            updated_at=now,
        )
        ComplaintReview.objects.create(
            complaint=complaint, requested_at=now, findings="李伟 waited three days"
        )
        visit = ReturnVisit.objects.create(
            kind="follow_up",
            reason="sample",
            customer=customer,
            case=closed_case,
            due_at=now,
            next_attempt_at=now,
            created_at=now,
        )
        VisitAttempt.objects.create(
            visit=visit, result="no_answer", at=now, by=manager, note="李伟 did not pick up"
        )
        Survey.objects.create(
            customer=customer,
            case=closed_case,
            visit=visit,
            method="link",
            nonce="n" * 32,
            created_at=now,
            expires_at=now,
            comment="李伟: the technician was late",
        )

        document = json.loads(services.subject_export(actor=manager, customer_id=customer.pk))

        [exported] = document["complaints"]
        assert exported["nature"] == "slow_response"
        assert exported["reviews"][0]["findings"] == "李伟 waited three days"
        [exported_visit] = document["return_visits"]
        assert exported_visit["attempts"][0]["note"] == "李伟 did not pick up"
        [survey] = document["surveys"]
        assert survey["comment"] == "李伟: the technician was late"
        assert "nonce" not in survey  # a credential, not the customer's data

    def test_needs_the_export_right(
        self, agent: User, supervisor: User, customer: Customer
    ) -> None:
        # Only roles that see every record export: supervisors see their teams' cases only.
        for actor in (agent, supervisor):
            with pytest.raises(PermissionDenied):
                services.subject_export(actor=actor, customer_id=customer.pk)
        assert not AuditEvent.objects.filter(action="privacy.export").exists()

    def test_a_customer_outside_the_scope_is_not_found(
        self, make_staff: Callable[..., User], customer: Customer, tech_team: Any
    ) -> None:
        from django.contrib.auth.models import Permission

        technician = make_staff(Role.TECHNICIAN, teams=[tech_team])
        technician.user_permissions.add(Permission.objects.get(codename="export_subject"))
        technician = User.objects.get(pk=technician.pk)  # fresh permission cache
        mine = factories.customer()
        factories.case(mine, assignee=technician)

        with pytest.raises(Http404):
            services.subject_export(actor=technician, customer_id=customer.pk)
        assert json.loads(services.subject_export(actor=technician, customer_id=mine.pk))


class TestSubjectErase:
    def test_erases_every_registered_field_and_keeps_the_stub(
        self, manager: User, agent: User, customer: Customer, closed_case: Case
    ) -> None:
        unit = factories.unit(customer=customer)
        services.consent_record(
            actor=agent,
            customer=customer,
            purpose="marketing",
            granted=True,
            source="outlet",
            note="李伟 signed at the Nanshan outlet",
        )

        erasure = services.subject_erase(
            actor=manager, customer_id=customer.pk, reason=ErasureReason.SUBJECT_REQUEST
        )

        customer.refresh_from_db()
        assert customer.name == services.ERASED and customer.notes == ""
        assert customer.name_index == "" and customer.name_leading_index == ""
        assert customer.number.startswith("C") and customer.consent_contact is False
        assert not ContactPoint.objects.filter(customer=customer).exists()
        address = Address.objects.get(customer=customer)
        assert (address.street, address.city) == ("", "深圳市")
        closed_case.refresh_from_db()
        assert closed_case.customer_id == customer.pk
        assert closed_case.description == services.ERASED
        assert closed_case.solution_notes == services.ERASED
        assert set(CaseEvent.objects.filter(case=closed_case).values_list("body", flat=True)) == {
            services.ERASED
        }
        assert Unit.objects.get(pk=unit.pk).purchase_amount == unit.purchase_amount
        consent = Consent.objects.get(purpose="marketing")
        assert (consent.granted, consent.note) == (True, "")
        assert consent_in_force(customer, "marketing") is False  # nobody left to market to
        # Nothing of the person is left anywhere in the tables, even as ciphertext.
        assert customers_by_phone(user=agent, raw=PHONE).customers == []
        for table in ("customers_contactpoint", "privacy_consent", "privacy_erasurerecord"):
            assert "李伟" not in _raw_rows(table)
        assert erasure.actor == manager and erasure.reason == "subject_request"
        assert erasure.counts["customers.ContactPoint.value"] == 2
        assert erasure.counts["customers.ContactPoint.lookup_hash"] == 2
        assert erasure.counts["customers.Customer.name"] == 1
        assert erasure.counts["cases.CaseEvent.body"] == 1
        assert erasure.counts["privacy.Consent.note"] == 1
        assert set(erasure.counts) >= {f"{f.model}.{f.field}" for f in PII_FIELDS}
        audit = AuditEvent.objects.get(action="privacy.erased")
        assert (audit.customer_id, audit.data["erasure_id"]) == (customer.pk, erasure.pk)

    def test_the_record_and_audit_hold_no_personal_data(
        self, manager: User, customer: Customer
    ) -> None:
        erasure = services.subject_erase(
            actor=manager, customer_id=customer.pk, reason="subject_request"
        )
        audits = AuditEvent.objects.filter(action="privacy.erased").values_list("data", flat=True)
        stored = json.dumps(
            [erasure.reason, erasure.record_ids, erasure.counts, *audits], ensure_ascii=False
        )
        for personal in ("李伟", PHONE, "example.com", "科技园", "6pm"):
            assert personal not in stored

    def test_the_export_of_the_stub_holds_no_personal_data(
        self, manager: User, customer: Customer, closed_case: Case
    ) -> None:
        services.subject_erase(actor=manager, customer_id=customer.pk, reason="subject_request")

        text = services.subject_export(actor=manager, customer_id=customer.pk).decode()

        for personal in ("李伟", PHONE, "example.com", "科技园", "6pm", "compressor"):
            assert personal not in text
        assert json.loads(text)["erasure"][0]["reason"] == "subject_request"

    def test_refused_while_a_case_is_open_and_nothing_changes(
        self, manager: User, customer: Customer, desk_team: Any
    ) -> None:
        case = factories.case(customer, team=desk_team)

        with pytest.raises(ApplicationError) as refused:
            services.subject_erase(actor=manager, customer_id=customer.pk, reason="unlawful")

        assert (refused.value.code, refused.value.status_code) == ("open_cases", 409)
        assert refused.value.details == {"cases": [case.number]}
        customer.refresh_from_db()
        assert customer.name == "李伟"
        assert ContactPoint.objects.filter(customer=customer).count() == 2
        assert not ErasureRecord.objects.exists()
        assert not AuditEvent.objects.filter(action="privacy.erased").exists()

    def test_a_second_erasure_is_refused_with_the_first_named(
        self, manager: User, customer: Customer
    ) -> None:
        first = services.subject_erase(
            actor=manager, customer_id=customer.pk, reason="subject_request"
        )

        with pytest.raises(ApplicationError) as again:
            services.subject_erase(actor=manager, customer_id=customer.pk, reason="subject_request")

        assert (again.value.code, again.value.status_code) == ("already_erased", 409)
        assert again.value.details["erasure_id"] == first.pk
        assert ErasureRecord.objects.count() == 1

    def test_needs_the_erase_right(self, supervisor: User, customer: Customer) -> None:
        with pytest.raises(PermissionDenied):
            services.subject_erase(actor=supervisor, customer_id=customer.pk, reason="unlawful")
        customer.refresh_from_db()
        assert customer.name == "李伟"

    def test_records_merged_into_the_customer_are_erased_with_it(
        self, manager: User, agent: User, customer: Customer
    ) -> None:
        from aftersales.customers.services import customer_create, customer_merge

        duplicate = customer_create(actor=agent, name="李 伟", phones=["13900139000"])
        customer_merge(actor=manager, survivor=customer, duplicate=duplicate)

        erasure = services.subject_erase(
            actor=manager, customer_id=customer.pk, reason="subject_request"
        )

        duplicate.refresh_from_db()
        assert duplicate.name == services.ERASED
        assert erasure.record_ids == [customer.pk, duplicate.pk]
        assert customers_by_phone(user=agent, raw="13900139000").customers == []


def _rule(kind: str, **changes: Any) -> RetentionRule:
    rule = RetentionRule.objects.get(kind=kind)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.save()
    return rule


class TestRetentionApply:
    def test_the_defaults_are_installed(self) -> None:
        assert dict(RetentionRule.objects.values_list("kind", "action")) == {
            "notifications_read": "delete",
            "sign_in_attempts": "delete",
            "sessions_expired": "delete",
            "inactive_customers": "anonymise",
        }

    def test_deletes_exactly_the_notifications_and_sessions_due(self, agent: User) -> None:
        now = clock.now()
        _rule(RetentionKind.NOTIFICATIONS_READ, keep_days=90)

        def note(read_days_ago: int | None) -> Notification:
            read_at = None if read_days_ago is None else now - dt.timedelta(days=read_days_ago)
            return Notification.objects.create(
                recipient=agent, code="sla.warning", created_at=now, read_at=read_at
            )

        old, recent, unread = note(91), note(89), note(None)
        Session.objects.create(session_key="a" * 32, session_data="", expire_date=now)
        Session.objects.create(
            session_key="b" * 32, session_data="", expire_date=now + dt.timedelta(days=1)
        )

        with clock.frozen_at(now + dt.timedelta(hours=1)):
            outcomes = {o.rule.kind: o for o in services.retention_apply()}

        assert set(Notification.objects.values_list("pk", flat=True)) == {recent.pk, unread.pk}
        assert not Notification.objects.filter(pk=old.pk).exists()
        assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]
        assert (outcomes["notifications_read"].done, outcomes["sessions_expired"].done) == (1, 1)
        rule = RetentionRule.objects.get(kind="notifications_read")
        assert rule.last_run_at == now + dt.timedelta(hours=1) and rule.last_run_count == 1
        audit = AuditEvent.objects.get(
            action="privacy.retention_applied", data__kind="notifications_read"
        )
        assert (audit.actor, audit.data["done"]) == (None, 1)

    def test_idle_throttle_counters_go_unless_locked(self) -> None:
        try:
            counter = apps.get_model("accounts", "ThrottleCounter")
        except LookupError:
            outcome = next(
                o for o in services.retention_apply() if o.rule.kind == "sign_in_attempts"
            )
            assert outcome.skipped == "no_table"
            return
        now = clock.now()
        old = now - dt.timedelta(days=31)
        idle = counter.objects.create(
            scope="login", kind="pair", key="k1", window_started_at=old, touched_at=old
        )
        locked = counter.objects.create(
            scope="login",
            kind="pair",
            key="k2",
            window_started_at=old,
            touched_at=old,
            locked_until=now + dt.timedelta(hours=1),
        )
        fresh = counter.objects.create(
            scope="login", kind="pair", key="k3", window_started_at=now, touched_at=now
        )

        services.retention_apply(now=now)

        assert set(counter.objects.values_list("pk", flat=True)) == {locked.pk, fresh.pk}
        assert idle.pk not in set(counter.objects.values_list("pk", flat=True))

    def test_anonymises_exactly_the_inactive_customers(self, agent: User, desk_team: Any) -> None:
        start = clock.now()
        with clock.frozen_at(start):
            idle = factories.customer(name="王芳")
            Case.objects.filter(pk=factories.case(idle, team=desk_team).pk).update(status="closed")
            still_open = factories.customer(name="张伟")
            factories.case(still_open, team=desk_team)
        with clock.frozen_at(start + dt.timedelta(days=900)):
            came_back = factories.customer(name="刘洋", created_at=start)
            Case.objects.filter(pk=factories.case(came_back, team=desk_team).pk).update(
                status="closed"
            )
        later = start + dt.timedelta(days=1096)

        with clock.frozen_at(later):
            outcome = next(
                o for o in services.retention_apply() if o.rule.kind == "inactive_customers"
            )

        assert (outcome.due, outcome.done) == (1, 1)
        names = dict(Customer.objects.values_list("pk", "name"))
        assert names[idle.pk] == services.ERASED
        assert (names[still_open.pk], names[came_back.pk]) == ("张伟", "刘洋")
        erasure = ErasureRecord.objects.get()
        assert (erasure.customer_id, erasure.actor, erasure.reason) == (idle.pk, None, "retention")
        assert erasure.erased_at == later

    def test_dry_run_changes_nothing(self, agent: User, desk_team: Any) -> None:
        start = clock.now()
        idle = factories.customer(created_at=start)
        Notification.objects.create(
            recipient=agent, code="x", created_at=start, read_at=start - dt.timedelta(days=365)
        )
        audit_rows = AuditEvent.objects.count()

        with clock.frozen_at(start + dt.timedelta(days=2000)):
            outcomes = {o.rule.kind: o for o in services.retention_apply(dry_run=True)}

        assert (outcomes["inactive_customers"].due, outcomes["inactive_customers"].done) == (1, 0)
        assert outcomes["notifications_read"].due == 1
        assert Notification.objects.count() == 1
        idle.refresh_from_db()
        assert idle.name != services.ERASED
        assert not ErasureRecord.objects.exists()
        assert AuditEvent.objects.count() == audit_rows
        assert not RetentionRule.objects.filter(last_run_at__isnull=False).exists()

    def test_a_disabled_rule_does_nothing_and_the_audit_log_is_never_touched(
        self, agent: User
    ) -> None:
        now = clock.now()
        _rule(RetentionKind.NOTIFICATIONS_READ, enabled=False)
        Notification.objects.create(
            recipient=agent, code="x", created_at=now, read_at=now - dt.timedelta(days=900)
        )
        with clock.frozen_at(now - dt.timedelta(days=4000)):
            ancient = audit_record(
                actor=agent, action="customer.created", entity="customer", entity_id=1
            )

        services.retention_apply(now=now + dt.timedelta(days=5000))

        assert Notification.objects.count() == 1
        assert AuditEvent.objects.filter(pk=ancient.pk).exists()
        assert "notifications_read" not in set(
            AuditEvent.objects.filter(action="privacy.retention_applied").values_list(
                "data__kind", flat=True
            )
        )

    def test_a_rule_refuses_an_action_its_kind_does_not_allow(self, manager: User) -> None:
        rule = RetentionRule.objects.get(kind="inactive_customers")
        with pytest.raises(Exception) as refused:
            services.retention_rule_update(
                actor=manager, rule=rule, keep_days=10, action="delete", enabled=True
            )
        assert "action" in getattr(refused.value, "message_dict", {})
        rule.refresh_from_db()
        assert (rule.keep_days, rule.action) == (1095, "anonymise")

    def test_changing_a_rule_is_audited(self, manager: User) -> None:
        rule = RetentionRule.objects.get(kind="notifications_read")
        services.retention_rule_update(
            actor=manager, rule=rule, keep_days=30, action="delete", enabled=True
        )
        audit = AuditEvent.objects.get(action="privacy.retention_rule_changed")
        assert audit.data["before"]["keep_days"] == 90
        assert audit.data["after"]["keep_days"] == 30


class TestErasureOfAttachments:
    def test_files_a_customer_sent_are_removed_and_their_names_replaced(
        self,
        manager: User,
        agent: User,
        customer: Customer,
        desk_team: Any,
        settings: Any,
        tmp_path: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        from aftersales.cases.attachments import attachment_add
        from aftersales.cases.models import Attachment

        settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
        case = factories.case(customer, team=desk_team)
        upload = SimpleUploadedFile("李伟-invoice.txt", "发票 李伟 13800138000".encode())
        attachment = attachment_add(actor=agent, case=case, upload=upload)
        stored = [p for p in (tmp_path / "private").rglob("*") if p.is_file()]
        assert len(stored) == 1
        Case.objects.filter(pk=case.pk).update(status="closed")

        with django_capture_on_commit_callbacks(execute=True):
            erasure = services.subject_erase(
                actor=manager, customer_id=customer.pk, reason=ErasureReason.SUBJECT_REQUEST
            )

        attachment = Attachment.objects.get(pk=attachment.pk)
        assert attachment.deleted_at is not None
        assert attachment.filename == services.ERASED
        assert not stored[0].exists()
        assert erasure.counts["cases.Attachment.file"] == 1
        assert Case.objects.get(pk=case.pk).subject == services.ERASED
