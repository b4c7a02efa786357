"""Tests of aftersales.privacy.selectors: which consent is in force."""

import datetime as dt

import pytest

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.customers.models import Customer
from aftersales.privacy.models import Consent, ConsentSource, Purpose
from aftersales.privacy.selectors import consent_in_force, consent_states
from aftersales.privacy.services import consent_record
from tests import factories

pytestmark = pytest.mark.django_db


def _record(customer: Customer, purpose: str, granted: bool, at: dt.datetime) -> Consent:
    return Consent.objects.create(
        customer=customer, purpose=purpose, granted=granted, source="phone", recorded_at=at
    )


class TestConsentInForce:
    def test_defaults_contact_follows_the_file_and_the_rest_is_opt_in(self) -> None:
        willing = factories.customer(consent_contact=True)
        unwilling = factories.customer(consent_contact=False)

        assert consent_in_force(willing, Purpose.CONTACT_PHONE) is True
        assert consent_in_force(willing, Purpose.CONTACT_SMS) is True
        assert consent_in_force(willing, Purpose.SURVEYS) is False
        assert consent_in_force(willing, Purpose.MARKETING) is False
        assert consent_in_force(unwilling, Purpose.CONTACT_EMAIL) is False

    def test_the_latest_record_decides_whatever_the_order_of_entry(self) -> None:
        customer = factories.customer()
        now = clock.now()
        _record(customer, Purpose.MARKETING, True, now - dt.timedelta(days=10))
        _record(customer, Purpose.MARKETING, False, now - dt.timedelta(days=1))
        # Entered later, but said earlier: it does not override the withdrawal.
        _record(customer, Purpose.MARKETING, True, now - dt.timedelta(days=5))

        assert consent_in_force(customer, Purpose.MARKETING) is False
        assert consent_in_force(customer, Purpose.SURVEYS) is False

    def test_a_merged_duplicates_records_count_for_the_survivor(self) -> None:
        survivor = factories.customer()
        duplicate = factories.customer(merged_into=survivor)
        _record(duplicate, Purpose.SURVEYS, True, clock.now())

        assert consent_in_force(survivor, Purpose.SURVEYS) is True

    def test_states_list_every_purpose_with_the_record_that_decided_it(self, agent: User) -> None:
        customer = factories.customer()
        consent = consent_record(
            actor=agent,
            customer=customer,
            purpose=Purpose.SURVEYS,
            granted=True,
            source=ConsentSource.PORTAL,
        )

        states = {s.purpose: s for s in consent_states(customer)}

        assert list(states) == list(Purpose.values)
        assert states["surveys"].granted is True and states["surveys"].record == consent
        assert states["marketing"].granted is False and states["marketing"].record is None
