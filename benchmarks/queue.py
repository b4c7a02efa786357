"""Queue and search latency on 100,000 cases: the staff queue page, its HTMX partial, filters.

    .venv/bin/python benchmarks/queue.py                        # temporary SQLite file
    .venv/bin/python benchmarks/queue.py --database-url postgres://postgres@127.0.0.1:5432/bench_aftersales
    .venv/bin/python benchmarks/queue.py --both

It builds its own database (migrate + `seed --scale 121`, about 100,000 cases), then requests
`/cases/` in-process with Django's test client, logged in as the manager (scope: everything)
and as the supervisor (scope: the Shenzhen desk): the full page, the HTMX partial
(`HX-Request: true`) with the usual filters, deep pages, and searches by case number, phone
number (blind index), serial number and customer name. Each request runs `--repeat` times after
a warm-up; the table gives median and p95 and the ratio of the median to a reference measured in
the same run (a small JSON endpoint). Nothing here asserts a time.
"""

import random
import sys
from pathlib import Path
from typing import Any

# This file is named like the standard library's `queue`: keep its folder last on the path,
# so `import queue` (used by concurrent.futures and Django) finds the real module.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

import _common as common  # noqa: E402


def main() -> int:
    parser = common.arguments(__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=121, help="seed scale (121: ~100,000 cases)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per request")
    args = parser.parse_args()
    if args.both:
        return common.run_both(__file__, sys.argv[1:])

    with common.bench_database(args.database_url, keep=args.keep) as db:
        print(f"Preparing the {db.engine} database (migrate, seed --scale {args.scale}) ...")
        common.aftersales(db, "migrate", "--noinput", "-v0")
        seed_seconds = common.aftersales(db, "seed", "--scale", str(args.scale))
        common.django_setup(db)
        rows, counts = measure(args.repeat)
        common.header("Queue and search benchmark (GET /cases/)", db)
        print(
            f"data: {counts['cases']:,} cases, {counts['events']:,} case events, "
            f"{counts['customers']:,} customers, {counts['units']:,} units "
            f"(seed --scale {args.scale} took {seed_seconds:.0f} s)"
        )
        print(
            f"each row: {args.repeat} timed requests after 2 warm-up, Django test client "
            "in-process (full middleware, session auth, template rendering; no network)"
        )
        print()
        print(
            common.table(
                ["request", "as", "rows", "median ms", "p95 ms", "x reference"],
                rows,
            )
        )
        from django.db import connections

        connections.close_all()
    return 0


def measure(repeat: int) -> tuple[list[list[Any]], dict[str, int]]:
    """Time every request; returns the table rows and the data set's size."""
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from aftersales.accounts.models import Team, User
    from aftersales.cases.models import Case, CaseEvent
    from aftersales.cases.selectors import QueueFilters, case_queue
    from aftersales.catalog.models import ProductLine, Unit
    from aftersales.customers.models import ContactPoint, Customer
    from aftersales.web import demo

    counts = {
        "cases": Case.objects.count(),
        "events": CaseEvent.objects.count(),
        "customers": Customer.objects.count(),
        "units": Unit.objects.count(),
    }
    clients: dict[str, Client] = {}
    users = {u.username: u for u in User.objects.filter(username__in=["manager", "supervisor"])}
    for username, account in users.items():
        client = Client()
        client.force_login(account)
        clients[username] = client

    rng = random.Random(5)
    sample_case = Case.objects.order_by("?").values_list("number", flat=True).first() or ""
    contact = (
        ContactPoint.objects.filter(kind=ContactPoint.Kind.PHONE, customer__cases__isnull=False)
        .order_by("id")
        .first()
    )
    phone = contact.value.removeprefix("+86") if contact else demo.DEMO_CALLER_PHONE
    unit = Unit.objects.filter(cases__isnull=False).order_by("id")[rng.randrange(1000)]
    customer_name = (
        Customer.objects.filter(cases__isnull=False).order_by("id")[rng.randrange(1000)].name
    )
    desk = Team.objects.get(code="desk-sz")
    fridge = ProductLine.objects.get(code="fridge")
    agent = User.objects.get(username="agent")
    last = Case.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    assert last is not None
    day_end = timezone.localdate(last)
    month_start = day_end.replace(day=1)
    hx = {"HX-Request": "true"}

    def rows_of(user: str, params: dict[str, Any]) -> int:
        """How many cases the request's filters match (counted once, outside the timing)."""
        filters = {k: v for k, v in params.items() if k != "page"}
        return case_queue(users[user], QueueFilters(**filters)).count()

    def get(user: str, path: str, params: dict[str, Any], headers: dict[str, str]) -> Any:
        response = clients[user].get(path, params, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} {params} as {user}: HTTP {response.status_code}")
        return response

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("select 1")
            cursor.fetchone()

    reference_ms = common.timed(
        lambda: get("manager", "/api/v1/cases/choices", {}, {}), repeat=repeat
    )
    reference = common.median(reference_ms)
    select_ms = common.timed(select_one, repeat=repeat)
    cases: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("queue page, no filter", "manager", {}, {}),
        ("queue page, no filter", "supervisor", {}, {}),
        ("HTMX partial: open cases", "manager", {"status": "open"}, hx),
        ("HTMX partial: open cases", "supervisor", {"status": "open"}, hx),
        ("HTMX partial: open + hardware", "manager", {"status": "open", "nature": "hardware"}, hx),
        ("HTMX partial: high + phone", "manager", {"urgency": "high", "channel": "phone"}, hx),
        ("HTMX partial: team = Shenzhen desk", "manager", {"team": desk.pk}, hx),
        ("HTMX partial: assignee = agent", "manager", {"assignee": agent.pk}, hx),
        (
            "HTMX partial: fridge, this month",
            "manager",
            {"product_line": fridge.pk, "date_from": month_start, "date_to": day_end},
            hx,
        ),
        ("HTMX partial: page 200", "manager", {"page": 200}, hx),
        ("search: case number", "manager", {"q": sample_case}, hx),
        ("search: phone number", "manager", {"q": phone}, hx),
        ("search: serial number", "manager", {"q": unit.serial_number}, hx),
        ("search: customer name", "manager", {"q": customer_name}, hx),
        ("search: customer name", "supervisor", {"q": customer_name}, hx),
    ]  # fmt: skip
    rows: list[list[Any]] = [
        ["reference: GET /api/v1/cases/choices", "manager", "", reference,
         common.percentile(reference_ms, 95), 1.0],
        ["reference: SELECT 1", "", "", common.median(select_ms),
         common.percentile(select_ms, 95), common.median(select_ms) / reference],
    ]  # fmt: skip
    for label, user, params, headers in cases:

        def request(u: str = user, p: dict[str, Any] = params, h: dict[str, str] = headers) -> Any:
            return get(u, "/cases/", p, h)

        request()
        found = rows_of(user, params)
        samples = common.timed(request, repeat=repeat)
        med = common.median(samples)
        rows.append([label, user, found, med, common.percentile(samples, 95), med / reference])
    return rows, counts


if __name__ == "__main__":
    raise SystemExit(main())
