"""SLA sweep on 10,000 / 100,000 / 1,000,000 open cases (PostgreSQL): idle, and with due clocks.

    .venv/bin/python benchmarks/sla_sweep.py
    .venv/bin/python benchmarks/sla_sweep.py --database-url postgres://postgres@127.0.0.1:5432/bench_aftersales
    .venv/bin/python benchmarks/sla_sweep.py --sizes 10000 100000 --keep

The sweep runs every minute and must only touch clocks whose warning or due time has passed;
every other running clock has to be skipped through the partial indexes `sla_clock_warn_due`
and `sla_clock_breach_due`. This script builds its own PostgreSQL database (migrate), creates
one customer (regular tier: the default "Standard" policy), one team with a supervisor and an
assignee, and one case whose two clocks (first response, resolution) come from the real
`clocks_sync`. It then copies that case and its clocks with set-based SQL (INSERT ... SELECT
FROM generate_series) up to each size, growing the same tables from one size to the next, and
runs VACUUM ANALYZE. Due and warning times of the copies are spread over the next three days;
`--noticed-percent` of the cases carry a first-response clock that breached earlier and was
already recorded by a past sweep (still running, so only the partial indexes leave it out).

At each size it measures, with `sla_sweep(now=...)` in-process:

- the idle sweep: nothing due, the steady state of every minute;
- the sweep's candidate query alone (the exact SQL the idle sweep sent);
- a sweep with `--due` clocks due, half breaches (first response) and half warnings
  (resolution), on cases spread evenly over the table. Escalation rules fire as configured by
  the migrations (events, priority, notifications; the notifications' e-mail copies are queued
  to Celery's in-memory transport, as they are to the broker in production, not sent inside the
  sweep). Before each repetition the due clocks are put back and what the sweep wrote is
  deleted (then VACUUM), so every repetition does the same work;
- two references in the same run: one case looked up by its number (a unique-index hit, which
  should not grow) and `count(*)` over the open cases (which grows with N).

Medians over `--repeat` runs (at least 3 for the due sweep); the EXPLAIN (ANALYZE, BUFFERS) of
the candidate query at the largest size shows which indexes answer it. Nothing here asserts a
time.
"""

import argparse
import datetime as dt
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

import _common as common  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
CHUNK = 50_000  # cases per INSERT ... SELECT (and their clocks): one transaction each
SPREAD_SECONDS = 3 * 24 * 3600  # future due times are spread over the next three days
PARTIAL_INDEXES = ("sla_clock_warn_due", "sla_clock_breach_due")
# The sweep asks each partial index for due case ids: one query for warnings, one for breaches.
CANDIDATE_SQL = 'SELECT "sla_slaclock"."case_id" AS "case_id" FROM "sla_slaclock"'
# Tables the sweep writes to, put back between repetitions.
SWEEP_TABLES = (
    "sla_slaclock",
    "cases_case",
    "cases_caseevent",
    "sla_escalationfiring",
    "notifications_notification",
    "sla_sweeprun",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=common.DEFAULT_PG_URL,
        help=f"PostgreSQL database to (re)create (default {common.DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help="numbers of open cases, measured in ascending order on one growing table",
    )
    parser.add_argument("--due", type=int, default=1000, help="clocks due in the busy sweep")
    parser.add_argument("--repeat", type=int, default=3, help="timed busy sweeps per size (>= 3)")
    parser.add_argument("--repeat-idle", type=int, default=30, help="timed idle sweeps per size")
    parser.add_argument(
        "--noticed-percent",
        type=int,
        default=5,
        help="cases whose first-response clock breached earlier and was already recorded",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("this benchmark needs PostgreSQL (partial indexes, generate_series)")
    if args.repeat < 3:
        raise SystemExit("--repeat must be at least 3")
    sizes = sorted(set(args.sizes))
    if sizes[0] < 2 * args.due:
        raise SystemExit(f"the smallest size must hold at least {2 * args.due} cases")
    if not 0 <= args.noticed_percent < 100:
        raise SystemExit("--noticed-percent must be between 0 and 99")

    with common.bench_database(args.database_url, keep=args.keep) as db:
        print(f"Preparing the {db.engine} database (migrate) ...")
        common.aftersales(db, "migrate", "--noinput", "-v0")
        common.django_setup(db)
        from aftersales.config.celery import app

        # As in production with a broker: the sweep queues the notifications' e-mail copies
        # (here on Celery's in-memory transport) and workers send them, outside the sweep.
        app.conf.task_always_eager = False
        bench = SweepBench(due=args.due, noticed_percent=args.noticed_percent)
        columns: list[dict[str, Any]] = []
        for size in sizes:
            columns.append(bench.measure_size(size, repeat=args.repeat, idle=args.repeat_idle))
        common.header("SLA sweep benchmark (sla_sweep, warnings, breaches, escalations)", db)
        report(bench, sizes, columns, args)
        from django.db import connections

        connections.close_all()
    return 0


class SweepBench:
    """The data set, its growth, the due clocks and the measurements at each size."""

    def __init__(self, *, due: int, noticed_percent: int) -> None:
        from django.db import connection

        from aftersales.accounts.models import Team, TeamMembership, User
        from aftersales.cases.models import Case, Status
        from aftersales.core import clock
        from aftersales.customers.models import Customer, Tier
        from aftersales.sla.clocks import clocks_sync
        from aftersales.sla.models import SlaClock

        self.due = due
        self.noticed_percent = noticed_percent
        # One fixed "now" for the whole run: every due time is placed relative to it.
        self.now = clock.now().replace(microsecond=0)
        self.explains: dict[str, str] = {}
        team = Team.objects.create(code="bench-desk", name="Benchmark desk", kind="frontline")
        supervisor = User.objects.create_user(username="bench-supervisor", email="")
        self.assignee = User.objects.create_user(username="bench-agent", email="")
        TeamMembership.objects.create(team=team, user=supervisor, is_lead=True)
        TeamMembership.objects.create(team=team, user=self.assignee)
        customer = Customer.objects.create(
            number="CB000000000001", name="基准客户", tier=Tier.REGULAR, created_at=self.now
        )
        # Not a live channel and no creator: the first-response clock runs (it is not met at
        # intake), like a case that came in by e-mail.
        self.template = Case.objects.create(
            number="SB000000000001",
            customer=customer,
            channel="email",
            subject="冰箱不制冷",
            description="基准测试工单",
            status=Status.ASSIGNED,
            team=team,
            assignee=self.assignee,
            created_at=self.now,
            updated_at=self.now,
        )
        clocks_sync(case=self.template, actor=None, now=self.now, reason="rebuild")
        clocks = SlaClock.objects.filter(case=self.template, state=SlaClock.State.RUNNING)
        if sorted(c.metric for c in clocks) != ["first_response", "resolution"]:
            raise SystemExit("the default Standard policy did not start two running clocks")
        self.case_columns = [f.column for f in Case._meta.concrete_fields if f.column != "id"]
        self.clock_columns = [f.column for f in SlaClock._meta.concrete_fields if f.column != "id"]
        self.cases = 1
        self.load_seconds = 0.0
        self.due_ids: list[int] = []
        self.lookup_number = self.template.number
        self.connection = connection
        self._place_clocks("c.id = %(arg)s", self.template.pk)

    # --- loading ----------------------------------------------------------------------------

    def grow(self, size: int) -> float:
        """Add copies of the template case (with its two clocks) until `size` cases exist."""
        from django.db import transaction

        started = time.perf_counter()
        created = f"%(now)s - ((g::bigint * 7919) %% {2 * 24 * 3600}) * interval '1 second'"
        case_values = {
            "number": "'SB' || lpad(g::text, 12, '0')",
            "created_at": created,
            "updated_at": created,
            "idempotency_key": "NULL",
        }
        case_sql = (
            f"INSERT INTO cases_case ({', '.join(self.case_columns)}) "
            f"SELECT {', '.join(case_values.get(c, 't.' + c) for c in self.case_columns)} "
            "FROM generate_series(%(first)s, %(last)s) AS g, cases_case AS t "
            "WHERE t.id = %(template)s"
        )
        clock_values = {
            "case_id": "c.id",
            "started_at": "c.created_at",
            "updated_at": "c.created_at",
        }
        clock_sql = (
            f"INSERT INTO sla_slaclock ({', '.join(self.clock_columns)}) "
            f"SELECT {', '.join(clock_values.get(c, 't.' + c) for c in self.clock_columns)} "
            "FROM cases_case AS c JOIN sla_slaclock AS t ON t.case_id = %(template)s "
            "WHERE c.id > %(after)s"
        )
        with tqdm(
            desc=f"cases to {size:,}", total=size - self.cases, unit="case", unit_scale=True
        ) as bar:
            while self.cases < size:
                first = self.cases + 1
                last = min(size, self.cases + CHUNK)
                with transaction.atomic(), self.connection.cursor() as cursor:
                    # Loading only: the measured sweeps commit with the server's defaults.
                    cursor.execute("SET LOCAL synchronous_commit = off")
                    cursor.execute("SELECT max(id) FROM cases_case")
                    after = cursor.fetchone()[0]
                    params = {"now": self.now, "first": first, "last": last}
                    cursor.execute(case_sql, {**params, "template": self.template.pk})
                    cursor.execute(clock_sql, {"template": self.template.pk, "after": after})
                    self._place_clocks("c.id > %(arg)s", after, cursor=cursor)
                bar.update(last - self.cases)
                self.cases = last
        print("VACUUM ANALYZE ...", flush=True)
        with self.connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cases_case, sla_slaclock")
        seconds = time.perf_counter() - started
        self.load_seconds += seconds
        return seconds

    def _place_clocks(self, where: str, arg: Any, *, cursor: Any = None) -> None:
        """Give the chosen cases' clocks their steady-state times (none due, some noticed).

        Due times are spread over the next three days, warnings at 75 % of the way there.
        `noticed_percent` of the cases have a first-response clock that breached earlier and
        that a past sweep already warned about and recorded.
        """
        spread = (
            f"(120 + ((c.id * 7919 + CASE WHEN k.metric = 'resolution' THEN 104729 ELSE 0 END)"
            f" %% {SPREAD_SECONDS})) * interval '1 second'"
        )
        noticed = f"(k.metric = 'first_response' AND c.id %% 100 < {self.noticed_percent})"
        sql = f"""
            UPDATE sla_slaclock AS k SET
                due_at = CASE WHEN {noticed} THEN %(now)s - {spread} ELSE %(now)s + {spread} END,
                warn_at = CASE WHEN {noticed} THEN %(now)s - {spread} - interval '1 hour'
                               ELSE %(now)s + 0.75 * {spread} END,
                warned_at = CASE WHEN {noticed} THEN %(now)s - {spread} - interval '1 hour' END,
                breached_at = CASE WHEN {noticed} THEN %(now)s - {spread} END,
                breach_noticed_at = CASE WHEN {noticed} THEN %(now)s - {spread}
                                                             + interval '30 seconds' END
            FROM cases_case AS c
            WHERE k.case_id = c.id AND {where}
        """
        if cursor is None:
            with self.connection.cursor() as own:
                own.execute(sql, {"now": self.now, "arg": arg})
        else:
            cursor.execute(sql, {"now": self.now, "arg": arg})

    # --- the due clocks ---------------------------------------------------------------------

    def choose_due(self) -> None:
        """Spread the due cases evenly over the table: half breaches, half warnings."""
        if self.due_ids:
            self._place_clocks("c.id = ANY(%(arg)s)", self.due_ids)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM cases_case)"
                " AS s WHERE n %% %s = 0 ORDER BY id LIMIT %s",
                [self.cases // self.due, self.due],
            )
            self.due_ids = [row[0] for row in cursor.fetchall()]
        self.reset_due()

    def reset_due(self) -> None:
        """Make the chosen clocks due again and remove what a sweep wrote about them."""
        breach_ids, warn_ids = self.due_ids[0::2], self.due_ids[1::2]
        now, hour, half_minute = self.now, dt.timedelta(hours=1), dt.timedelta(seconds=30)
        with self.connection.cursor() as cursor:
            for table in SWEEP_TABLES[2:]:
                cursor.execute(f"DELETE FROM {table}")  # the loader writes none of these rows
            # Breaches: warned by an earlier sweep, due 30 s ago, not yet recorded.
            cursor.execute(
                "UPDATE sla_slaclock SET warn_at = %s, warned_at = %s, due_at = %s,"
                " breached_at = NULL, breach_noticed_at = NULL"
                " WHERE metric = 'first_response' AND case_id = ANY(%s)",
                [now - hour, now - hour, now - half_minute, breach_ids],
            )
            # Warnings: the warning time passed 30 s ago, due in an hour.
            cursor.execute(
                "UPDATE sla_slaclock SET warn_at = %s, warned_at = NULL, due_at = %s,"
                " breached_at = NULL, breach_noticed_at = NULL"
                " WHERE metric = 'resolution' AND case_id = ANY(%s)",
                [now - half_minute, now + hour, warn_ids],
            )
            cursor.execute(
                "UPDATE cases_case AS c SET priority = t.priority,"
                " priority_boost = t.priority_boost, team_id = t.team_id,"
                " assignee_id = t.assignee_id, status = t.status, updated_at = c.created_at"
                " FROM cases_case AS t WHERE t.id = %s AND c.id = ANY(%s)",
                [self.template.pk, self.due_ids],
            )
            cursor.execute(f"VACUUM {', '.join(SWEEP_TABLES)}")

    # --- measuring --------------------------------------------------------------------------

    def measure_size(self, size: int, *, repeat: int, idle: int) -> dict[str, Any]:
        from django.db import connection

        from aftersales.cases.models import OPEN_STATUSES, Case
        from aftersales.sla.models import SlaClock
        from aftersales.sla.services import sla_sweep

        if self.due_ids:  # clocks made due at the previous size go back to the steady state
            self._place_clocks("c.id = ANY(%(arg)s)", self.due_ids)
            self.due_ids = []
            self.reset_due()
        load = self.grow(size)
        out: dict[str, Any] = {"size": size, "load_s": load}
        out["cases"] = Case.objects.filter(status__in=OPEN_STATUSES).count()
        out["running"] = SlaClock.objects.filter(state=SlaClock.State.RUNNING).count()
        out["noticed"] = SlaClock.objects.filter(
            state=SlaClock.State.RUNNING, breach_noticed_at__isnull=False
        ).count()
        out["sizes_mb"] = self._relation_sizes()
        print(f"measuring at {size:,} open cases ...", flush=True)

        def lookup() -> None:
            Case.objects.values_list("id", flat=True).get(number=self.lookup_number)

        def count() -> None:
            Case.objects.filter(status__in=OPEN_STATUSES).count()

        def sweep() -> Any:
            return sla_sweep(now=self.now)

        out["lookup"] = common.timed(lookup, repeat=idle)
        out["count"] = common.timed(count, repeat=max(5, idle // 3))

        # Idle: nothing due. One logged run gives the exact candidate query it sends.
        log = QueryLog()
        with connection.execute_wrapper(log):
            result = sweep()
        if result.warnings or result.breaches or not log.candidates:
            raise SystemExit(f"the idle sweep found work or sent no candidate query: {result}")
        idle_queries = list(log.candidates)
        out["idle_queries"] = log.count
        out["idle"] = common.timed(sweep, repeat=idle)
        out["candidate"] = common.timed(
            lambda: [self._execute(*q) for q in idle_queries], repeat=idle
        )
        for n, query in enumerate(idle_queries, start=1):
            self.explains[f"idle, query {n} of {len(idle_queries)}"] = self._explain(*query)

        # Busy: `due` clocks due. A logged, untimed run checks the work and counts the queries.
        self.choose_due()
        log = QueryLog()
        with connection.execute_wrapper(log):
            result = sweep()
        expected = (self.due // 2 + self.due % 2, self.due // 2)
        if (result.breaches, result.warnings) != expected:
            raise SystemExit(f"expected {expected} breaches and warnings, got {result}")
        out["busy_queries"] = log.count
        out["busy_batches"] = result.batches
        out["escalations"] = result.escalations
        out["busy_candidate_ms"] = log.candidate_ms
        self.reset_due()
        self.explains["busy, first batch"] = self._explain(*log.candidates[0])
        self.explains["busy, last (empty) batch"] = self._explain(*log.candidates[-1])
        samples = []
        for _ in tqdm(range(repeat), desc=f"busy sweeps at {size:,}", unit="sweep"):
            self.reset_due()
            started = time.perf_counter()
            result = sweep()
            samples.append((time.perf_counter() - started) * 1000)
            if result.breaches + result.warnings != self.due:
                raise SystemExit(f"a repetition did different work: {result}")
        out["busy"] = samples
        print(
            f"N = {size:,}: idle sweep {common.median(out['idle']):.1f} ms, "
            f"busy sweep {common.median(samples):,.0f} ms",
            flush=True,
        )
        return out

    def _execute(self, sql: str, params: Any) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    def _explain(self, sql: str, params: Any) -> str:
        with self.connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        # The cases already taken in this run are listed in the query: show how many, not which.
        return re.sub(
            r"'\{([0-9,]{80,})\}'", lambda m: f"'{{{m[1].count(',') + 1} case ids}}'", plan
        )

    def _relation_sizes(self) -> dict[str, float]:
        names = ["cases_case", "sla_slaclock", *PARTIAL_INDEXES, "sla_clock_state_due"]
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)",
                [names],
            )
            return {name: size / 1024**2 for name, size in cursor.fetchall()}


class QueryLog:
    """Counts a sweep's queries and keeps its candidate queries (SQL, parameters, time)."""

    def __init__(self) -> None:
        self.count = 0
        self.candidates: list[tuple[str, Any]] = []
        self.candidate_ms = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        if not sql.startswith(CANDIDATE_SQL):
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.candidate_ms += (time.perf_counter() - started) * 1000
            self.candidates.append((sql, params))


# --- the report -----------------------------------------------------------------------------


def report(
    bench: SweepBench, sizes: list[int], columns: list[dict[str, Any]], args: argparse.Namespace
) -> None:
    med = common.median
    print(
        f"data: one customer (regular tier, Standard policy), one team; 2 running clocks per "
        f"case (first response, resolution); {args.noticed_percent} % of the cases carry a "
        "first-response clock already breached and recorded by an earlier sweep"
    )
    print(
        f"busy sweep: {bench.due // 2 + bench.due % 2} breaches (first response) + "
        f"{bench.due // 2} warnings (resolution) on {bench.due} cases spread over the table; "
        "escalation rules of the migrations fire (event, priority, notifications); "
        f"median of {args.repeat} runs, each after putting the clocks back"
    )
    print(
        f"idle sweep, candidate query and lookup: median of {args.repeat_idle} runs after 2 "
        "warm-up; count(*): median of "
        f"{max(5, args.repeat_idle // 3)}; all in-process through Django (no network)"
    )
    print()
    rows: list[list[Any]] = []

    def row(label: str, values: Iterable[Any]) -> None:
        rows.append([label, *values])

    row("open cases", (c["cases"] for c in columns))
    row("running clocks", (c["running"] for c in columns))
    row("  of which breached and already recorded", (c["noticed"] for c in columns))
    row("sla_slaclock heap, MB", (c["sizes_mb"]["sla_slaclock"] for c in columns))
    for index in (*PARTIAL_INDEXES, "sla_clock_state_due"):
        row(f"  index {index}, MB", (c["sizes_mb"][index] for c in columns))
    row("load (INSERT ... SELECT + VACUUM ANALYZE), s", (c["load_s"] for c in columns))
    row("idle sweep, median ms", (med(c["idle"]) for c in columns))
    row("idle sweep, p95 ms", (common.percentile(c["idle"], 95) for c in columns))
    row("idle sweep, queries", (c["idle_queries"] for c in columns))
    row("  its candidate query alone, median ms", (med(c["candidate"]) for c in columns))
    row(f"busy sweep ({bench.due} due), median ms", (med(c["busy"]) for c in columns))
    row("busy sweep, min ms", (min(c["busy"]) for c in columns))
    row("busy sweep, max ms", (max(c["busy"]) for c in columns))
    row("busy sweep, ms per due clock", (med(c["busy"]) / bench.due for c in columns))
    row("busy sweep, queries", (c["busy_queries"] for c in columns))
    row("busy sweep, batches", (c["busy_batches"] for c in columns))
    row("busy sweep, escalations fired", (c["escalations"] for c in columns))
    row("  candidate queries in it, total ms", (c["busy_candidate_ms"] for c in columns))
    row("reference: case by number, median ms", (med(c["lookup"]) for c in columns))
    row("reference: count(*) open cases, median ms", (med(c["count"]) for c in columns))
    row("idle sweep ÷ lookup", (med(c["idle"]) / med(c["lookup"]) for c in columns))
    row("busy sweep ÷ lookup", (med(c["busy"]) / med(c["lookup"]) for c in columns))
    row("idle sweep ÷ count(*)", (med(c["idle"]) / med(c["count"]) for c in columns))
    row("busy sweep ÷ count(*)", (med(c["busy"]) / med(c["count"]) for c in columns))
    print(common.table(["", *(f"N = {n:,}" for n in sizes)], rows))
    if len(columns) > 1:
        first, last = columns[0], columns[-1]
        growth = last["size"] / first["size"]
        print()
        print(f"growth from {first['size']:,} to {last['size']:,} open cases (×{growth:,.0f}):")
        for label, key in (
            ("idle sweep", "idle"),
            ("candidate query", "candidate"),
            ("busy sweep", "busy"),
            ("case by number", "lookup"),
            ("count(*) open cases", "count"),
        ):
            print(f"  {label:<22} ×{med(last[key]) / med(first[key]):.2f}")
    print()
    largest = sizes[-1]
    for name, plan in bench.explains.items():
        print(
            f"EXPLAIN (ANALYZE, BUFFERS) of the sweep's candidate query, {name}, N = {largest:,}:"
        )
        print("\n".join("    " + line for line in plan.splitlines()))
        # Each of the two candidate queries is answered from its own partial index.
        used = [index for index in PARTIAL_INDEXES if index in plan]
        if used:
            print(f"    -> answered from the partial index {', '.join(used)}")
        else:
            print(f"    -> WARNING: the plan uses neither of {', '.join(PARTIAL_INDEXES)}")
        print()


if __name__ == "__main__":
    raise SystemExit(main())
