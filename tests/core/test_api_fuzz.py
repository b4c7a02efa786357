"""Property-based fuzzing of the whole JSON API with Schemathesis.

Every operation in /api/v1/openapi.json is called in-process through the WSGI application with
requests generated from its schema, valid ones and invalid ones, authenticated as a manager (the
widest scope). Whatever is sent, the API must answer below 500; every 4xx must carry exactly
`{code, message, details}` and leave the database as it was (no rows added or removed).

A small world is seeded first (two customers, a product model, a unit, a case, an import), and
a hook aims half of the generated requests at it: path parameters, ids and codes in bodies and
queries are replaced by those of the seeded records, so the fuzzing reaches the services behind
the lookups and not only the 404s. Each request commits on its own (`transaction=True`), as in
production, so a missing `atomic()` or a half-done write shows up too.
"""

import contextlib
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import api_token_create
from aftersales.cases.models import Case
from aftersales.cases.services import case_open
from aftersales.catalog import services as catalog_services
from aftersales.customers.services import customer_create

ERROR_KEYS = {"code", "message", "details"}
SEED_PHONE = "13800138000"

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

# Examples per operation. The SQLite run (`make test`) explores the most; on PostgreSQL, where
# every test that commits costs a flush and a restore of the database, a smaller sample looks
# for what only that engine refuses (NUL characters, numbers and dates out of its ranges).
EXAMPLES = 10 if connection.vendor == "postgresql" else 25
SCOPED_EXAMPLES = 15

# The seeded records by the names path parameters, body fields and query parameters use; set by
# the `world` fixture before an operation's examples run, read by the hook that aims requests.
WORLD: dict[str, Any] = {}


def _aim(case: schemathesis.Case) -> schemathesis.Case:
    for container in (case.path_parameters, case.query, case.body):
        if isinstance(container, dict):
            for name in container.keys() & WORLD.keys():
                container[name] = WORLD[name]
    return case


def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> Any:
    """Half of the generated requests address the seeded records instead of random ones."""
    return st.booleans().map(lambda aimed: _aim(case) if aimed else case)


# A refused request is recorded on purpose: in the audit log (failed sign-ins, refusals) and in
# the throttle counters (failed sign-ins and caller look-ups are counted to slow guessing).
AUDIT_TABLES = {"core_auditevent", "core_auditchainhead", "accounts_throttlecounter"}


def _row_counts() -> tuple[int, ...]:
    """The number of rows of every table of the project but the audit log, in one query."""
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model.__module__.startswith("aftersales.") and model._meta.db_table not in AUDIT_TABLES
    )
    counts = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    return tuple(row)


def _import_csv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["serial_number", "model_code", "purchase_date", "amount", "sales_channel"])
    writer.writerow(["FZ2026000002", "FZ-100", "2026-01-15", "1999.00", "online"])
    writer.writerow(["", "NO-SUCH", "someday", "-1", "pigeon"])
    return out.getvalue().encode()


@pytest.fixture
def one_connection() -> Iterator[None]:
    """Keep the database connection across requests, as Django's test client does.

    Otherwise every request closes it when it ends (CONN_MAX_AGE is 0), and PostgreSQL pays a
    new connection per call. Each request still commits on its own.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(
    one_connection: None, make_staff: Callable[..., User], desk_team: Team
) -> Iterator[dict[str, str]]:
    """Seed the records to aim at; yields the headers of a manager's bearer token."""
    manager = make_staff(Role.MANAGER, username="fuzz-manager")
    agent = make_staff(Role.FRONTLINE_AGENT, teams=[desk_team], username="fuzz-agent")
    _, key = api_token_create(user=manager, name="fuzz")
    customer = customer_create(
        actor=manager,
        name="李伟",
        phones=[SEED_PHONE],
        emails=["li.wei@example.com"],
        addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
    )
    duplicate = customer_create(actor=manager, name="李伟", phones=["13900139000"])
    line = catalog_services.product_line_create(
        actor=manager, code="fz", name_zh="测试", name_en="Fuzz"
    )
    model = catalog_services.product_model_create(
        actor=manager, line=line, code="FZ-100", name="Fuzz 100"
    )
    unit = catalog_services.unit_register(
        actor=manager,
        model=model,
        serial_number="FZ2026000001",
        customer=customer,
        purchase_date=dt.date(2026, 1, 10),
        purchase_amount=Decimal("2999.00"),
        sales_channel="online",
    )
    batch = catalog_services.units_import_csv(
        actor=manager, filename="fuzz.csv", content=_import_csv()
    )
    case, _ = case_open(
        actor=manager, customer=customer, unit=unit, channel="phone", subject="冰箱不制冷"
    )
    WORLD.update(
        {
            "customer_id": customer.pk,
            "duplicate_id": duplicate.pk,
            "unit_id": unit.pk,
            "model_id": model.pk,
            "model_code": model.code,
            "line_id": line.pk,
            "product_line_id": line.pk,
            "product_line": line.pk,
            "line": line.code,
            "import_id": batch.pk,
            "number": case.number,
            "team_id": desk_team.pk,
            "team": desk_team.pk,
            "assignee_id": agent.pk,
            "assignee": agent.pk,
            "phone": SEED_PHONE,
            "serial": unit.serial_number,
        }
    )
    yield {"Authorization": f"Bearer {key}"}
    WORLD.clear()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@schema.hooks.apply(flatmap_case)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_no_operation_fails_or_breaks_the_error_shape(
    case: schemathesis.Case, world: dict[str, str]
) -> None:
    before = _row_counts()
    response = case.call(headers=world)
    request = case.as_curl_command(headers=world)

    assert response.status_code < 500, f"{response.status_code} for\n{request}\n{response.text}"
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.text)
    except ValueError:
        pytest.fail(f"{response.status_code} without a JSON body for\n{request}\n{response.text}")
    assert isinstance(body, dict) and body.keys() == ERROR_KEYS, f"{body!r} for\n{request}"
    assert isinstance(body["code"], str) and body["code"], f"{body!r} for\n{request}"
    assert isinstance(body["message"], str) and body["message"], f"{body!r} for\n{request}"
    assert isinstance(body["details"], dict), f"{body!r} for\n{request}"
    assert _row_counts() == before, f"{response.status_code} changed rows for\n{request}"


# --- scope: a scoped member of staff never receives a record outside their scope --------------

FOREIGN_MARKERS = ("FZMARK-外域客户", "FZMARK-北京漏水")


def _foreign_markers_in(text: str) -> list[str]:
    with contextlib.suppress(ValueError):  # not JSON: search the text as it is
        text = json.dumps(json.loads(text), ensure_ascii=False)  # "\u5916" -> "外"
    return [
        marker for marker in (*FOREIGN_MARKERS, *WORLD.get("foreign_numbers", ())) if marker in text
    ]


@schemathesis.check
def no_foreign_record(ctx: Any, response: Any, case: schemathesis.Case) -> bool:
    """No response to a scoped user names a customer or case outside their scope."""
    leaked = _foreign_markers_in(response.text)
    if leaked:
        raise AssertionError(f"{leaked} in the answer to {case.method} {case.formatted_path}")
    return True


@pytest.fixture
def scoped_world(
    one_connection: None,
    make_staff: Callable[..., User],
    tech_team: Team,
    other_team: Team,
) -> Iterator[dict[str, str]]:
    """A technician with one work order of their own, and a customer with a case of a Beijing
    team they have nothing to do with; requests are aimed at the foreign records."""
    technician = make_staff(Role.TECHNICIAN, teams=[tech_team], username="fuzz-tech")
    beijing = make_staff(Role.FRONTLINE_AGENT, teams=[other_team], username="fuzz-bj")
    _, key = api_token_create(user=technician, name="fuzz")
    own_customer = customer_create(actor=None, name="王芳", phones=["13700137000"])
    foreign = customer_create(actor=None, name=FOREIGN_MARKERS[0], phones=[SEED_PHONE])
    line = catalog_services.product_line_create(
        actor=make_staff(Role.MANAGER, username="fuzz-catalog"),
        code="fz",
        name_zh="测试",
        name_en="Fuzz",
    )
    model = catalog_services.product_model_create(
        actor=make_staff(Role.MANAGER, username="fuzz-models"),
        line=line,
        code="FZ-100",
        name="Fuzz 100",
    )
    unit = catalog_services.unit_register(
        actor=None,
        model=model,
        serial_number="FZ2026000009",
        customer=foreign,
        purchase_date=dt.date(2026, 1, 10),
        purchase_amount=Decimal("2999.00"),
        sales_channel="online",
    )
    own_case, _ = case_open(
        actor=beijing, customer=own_customer, channel="phone", subject="自己的工单", team=tech_team
    )
    Case.objects.filter(pk=own_case.pk).update(assignee=technician)
    foreign_case, _ = case_open(
        actor=beijing, customer=foreign, unit=unit, channel="phone", subject=FOREIGN_MARKERS[1],
        team=other_team,
    )  # fmt: skip
    WORLD.update(
        {
            "customer_id": foreign.pk,
            "duplicate_id": own_customer.pk,
            "unit_id": unit.pk,
            "model_id": model.pk,
            "model_code": model.code,
            "line_id": line.pk,
            "number": foreign_case.number,
            "team_id": other_team.pk,
            "assignee_id": beijing.pk,
            "phone": SEED_PHONE,
            "q": SEED_PHONE,
            "serial": unit.serial_number,
            "foreign_numbers": (foreign.number, foreign_case.number),
        }
    )
    yield {"Authorization": f"Bearer {key}"}
    WORLD.clear()


@pytest.mark.access_matrix  # scope rules are ORM filters: `make test` only, as the matrix
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@schema.hooks.apply(flatmap_case)
@schema.parametrize()
@settings(
    max_examples=SCOPED_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_a_scoped_user_never_receives_a_foreign_record(
    case: schemathesis.Case, scoped_world: dict[str, str]
) -> None:
    """Whatever a technician sends, no answer carries the foreign customer's name or number or
    the foreign case's subject or number; and no answer is a 5xx or breaks its schema."""
    response = case.call(headers=scoped_world)
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, no_foreign_record],
        headers=scoped_world,
    )


def test_the_scope_check_finds_a_marker_in_escaped_json() -> None:
    """The check reads JSON as a client does: an escaped name is still the name."""
    leak = json.dumps({"customer": {"name": FOREIGN_MARKERS[0]}})  # ASCII-escaped by default

    assert "\\u" in leak
    assert _foreign_markers_in(leak) == [FOREIGN_MARKERS[0]]
    assert _foreign_markers_in('{"name": "王芳"}') == []
