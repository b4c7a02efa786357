"""`aftersales otp_code <username>`: the current authenticator code of an account (DEBUG only).

For the demo and local development, where the demo accounts' secrets are public anyway; it
refuses to run with DEBUG off, since it would defeat the second factor.
"""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.accounts.mfa import mfa_totp_device, totp_next_code
from aftersales.accounts.models import User


class Command(BaseCommand):
    help = "Print the current 6-digit authenticator code of a staff account (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("otp_code runs only with DEBUG on (development and the demo).")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No account {options['username']!r}.")
        device = mfa_totp_device(user)
        if device is None:
            raise CommandError(f"{user.username} has not set up an authenticator yet.")
        now = time.time()
        code = totp_next_code(device, at=now)
        if code is None:
            wait = int(device.step - (now - device.t0) % device.step) + 1
            raise CommandError(f"This step's code was just used; try again in {wait} s.")
        self.stdout.write(code)
        left = int(device.step - (now - device.t0) % device.step)
        self.stderr.write(f"valid for about {left} s more (one use)")
