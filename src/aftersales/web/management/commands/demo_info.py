"""`aftersales demo_info`: where the demo runs, who to log in as (password and authenticator),
which numbers to call from."""

from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from aftersales.web import demo


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table; widths count East Asian characters as two columns."""

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    def pad(text: str, size: int) -> str:
        return text + " " * (size - width(text))

    sizes = [max(width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * s for s in sizes)
    out = ["  ".join(pad(h, s) for h, s in zip(headers, sizes, strict=True)), line]
    out += ["  ".join(pad(str(c), s) for c, s in zip(r, sizes, strict=True)).rstrip() for r in rows]
    return out


class Command(BaseCommand):
    help = "Print the demo address, the demo logins and the phone numbers to try."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="Where the server will listen."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"].rstrip("/") + "/"
        write = self.stdout.write
        write("")
        write(self.style.SUCCESS(f"Aftersales demo: {url}"))
        write(f"  staff UI {url}   API docs {url}api/v1/docs   Django admin {url}admin/")
        write("")
        logins = demo.demo_logins()
        write(f"Demo logins (every seeded staff account uses the password {demo.DEMO_PASSWORD!r}):")
        rows = [
            [
                login.username + ("" if login.exists else " (missing)"),
                login.password,
                login.role,
                login.scope,
                login.teams,
                login.sees,
            ]
            for login in logins
        ]
        for line in _table(["username", "password", "role", "scope", "team", "sees"], rows):
            write("  " + line)
        write("")
        write(
            "Second sign-in step (MFA): every demo login has an authenticator app (TOTP) with a "
            "fixed DEMO-ONLY secret."
        )
        write(
            "  Print the current 6-digit code: `aftersales otp_code <username>` (DEBUG only), or "
            "add the secret to an authenticator app:"
        )
        authenticators = demo.demo_authenticators()
        rows = [[a.username, a.secret or "(own device or missing)"] for a in authenticators]
        for line in _table(["username", "secret (base32, 6 digits, 30 s)"], rows):
            write("  " + line)
        example = next((a for a in authenticators if a.otpauth_uri), None)
        if example is not None:
            write(f"  e.g. {example.otpauth_uri}")
        write("")
        write("Caller recognition (客户辨识): log in as agent, open 'call' and enter a number:")
        # The number is typed into the page (it is posted, never put in a URL).
        write(f"  page: {url}customers/call/")
        for caller in demo.demo_callers():
            write(f"  {caller.phone}  ->  {caller.who}")
            for detail in caller.details:
                write(f"      {detail}")
        write("")
        write("Complaints, return visits and spare parts (投诉、回访与备件):")
        for stop in demo.demo_tour():
            write(f"  {url}{stop.path}  (as {stop.login})")
            write(f"      {stop.what}")
        write("")
        write(
            "Scope demo: log in as agent (Shenzhen desk) and agent2 (Beijing desk): neither sees "
            "the other's cases; supervisor sees the Shenzhen desk, manager sees everything."
        )
        write("")
