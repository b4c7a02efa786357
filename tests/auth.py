"""Signing a test client in as a member of staff, the way a person would end up signed in."""

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from aftersales.accounts.mfa import mfa_totp_device, totp_next_code
from aftersales.accounts.models import User


def totp_device(user: User) -> TOTPDevice:
    """The user's confirmed authenticator, set up (with a random secret) if they have none."""
    device = mfa_totp_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return device


def totp_code(device: TOTPDevice) -> str:
    """A code the device accepts now, as the person's authenticator app would show it.

    A code is accepted once per 30-second step; if this step's was used, the next step's is
    taken, and if that was used too, this waits for the next step.
    """
    while True:
        device.refresh_from_db()
        code = totp_next_code(device)
        if code is not None:
            return code
        time.sleep(1)


def sign_in(client: Client, user: User) -> Client:
    """Sign `client` in as `user` with a completed second factor; returns the client.

    The password step is `force_login`; the second factor is what `django_otp.login` leaves in
    a session after a code was accepted (the code itself is tested in tests/accounts/test_mfa.py).
    """
    device = totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
