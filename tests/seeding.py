"""Seeding the demo once for a test module, committed as the command commits."""

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection

from tests.conftest import reference_data_reinstall


@contextmanager
def committed_seed(django_db_blocker: Any, **options: Any) -> Iterator[str]:
    """Run `aftersales seed` with `options` and yield its report; afterwards put the database
    back as the migrations left it.

    Not one transaction around the whole seed: on PostgreSQL every audit event, case number
    and clock updates a few shared rows (the audit chain head, the counters), and versions of
    a row that one open transaction keeps updating cannot be pruned until it ends, so each
    update walks all the earlier ones (the full seed took about three times as long).
    """
    with django_db_blocker.unblock():
        out = StringIO()
        try:
            call_command("seed", stdout=out, stderr=StringIO(), verbosity=0, **options)
            yield out.getvalue()
        finally:
            migrated_state_restore()


def migrated_state_restore() -> None:
    """Empty every table and put back what the migrations installed: the snapshot taken when
    the test database was created (tests that commit restore the same one), else the
    reference data installed afresh."""
    # As a test that commits ends: sequences keep counting past the restored rows' ids.
    call_command(
        "flush", interactive=False, verbosity=0, inhibit_post_migrate=True, reset_sequences=False
    )
    snapshot = getattr(connection, "_test_serialized_contents", None)
    if snapshot:
        connection.creation.deserialize_db_from_string(snapshot)
    else:
        reference_data_reinstall()
