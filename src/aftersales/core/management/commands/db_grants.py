"""`aftersales db_grants --role <app_role>`: privileges for a separate application role."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from aftersales.core.audit import db_grant_statements
from aftersales.core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Print (or with --apply, run) the GRANTs that let the application's own PostgreSQL "
        "role work with every table but only read and append to the audit log: no UPDATE or "
        "DELETE there, no TRUNCATE anywhere. Run as the tables' owner after every migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, help="The application's database role.")
        parser.add_argument("--apply", action="store_true", help="Run the statements.")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("db_grants needs PostgreSQL (SQLite has no roles).")
        try:
            statements = db_grant_statements(role=options["role"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        if options["apply"]:
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        for statement in statements:
            self.stdout.write(f"{statement};")
        if options["apply"]:
            self.stdout.write(f"-- {len(statements)} statements applied")
