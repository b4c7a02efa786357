"""Signing a test client in as a member of staff, the way a person would end up signed in."""

from django.test import Client

from aftersales.accounts.models import User


def sign_in(client: Client, user: User) -> Client:
    """Sign `client` in as `user` with a completed second factor; returns the client."""
    client.force_login(user)
    return client
