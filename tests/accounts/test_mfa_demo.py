"""The demo's second factor: fixed demo-only authenticators, `otp_code` and `demo_info`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from aftersales.accounts.mfa import mfa_totp_device, totp_secret
from aftersales.accounts.models import User
from aftersales.core.models import AuditEvent
from aftersales.web import demo
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_demo_accounts_get_their_fixed_authenticator_once(agent: User, manager: User) -> None:
    own = TOTPDevice.objects.create(user=manager, name="own phone", confirmed=True)
    assert demo.demo_mfa_ensure() == 1  # agent; manager keeps the device he set up
    device = TOTPDevice.objects.get(user=agent)
    assert device.confirmed and device.key == demo.demo_totp_key("agent")
    assert demo.demo_totp_key("agent") != demo.demo_totp_key("agent2")
    assert list(TOTPDevice.objects.filter(user=manager)) == [own]
    assert AuditEvent.objects.filter(action="mfa.enrolled", entity_id=agent.pk).count() == 1
    assert demo.demo_mfa_ensure() == 0


def test_otp_code_prints_a_code_that_signs_in(agent: User) -> None:
    demo.demo_mfa_ensure()
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("otp_code", "agent", stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert len(code) == 6 and code.isdigit()
    client = Client()
    client.post("/login/", {"username": "agent", "password": PASSWORD})
    assert client.post("/account/mfa/", {"code": code}).status_code == 302
    assert client.get("/cases/").status_code == 200
    # Used once, the command moves on to a code that still works.
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("otp_code", "agent", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() != code


def test_otp_code_refuses_without_debug(agent: User) -> None:
    demo.demo_mfa_ensure()
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("otp_code", "agent", stdout=StringIO())


def test_demo_info_shows_the_demo_secrets(agent: User) -> None:
    demo.demo_mfa_ensure()
    out = StringIO()
    call_command("demo_info", stdout=out)
    text = out.getvalue()
    device = mfa_totp_device(agent)
    assert device is not None
    assert totp_secret(device) in text
    assert "aftersales otp_code <username>" in text
    assert "otpauth://totp/Aftersales%3Aagent?secret=" in text
