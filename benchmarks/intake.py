"""Intake throughput: cases opened per second through the real HTTP API, and in-process.

    .venv/bin/python benchmarks/intake.py                       # temporary SQLite file
    .venv/bin/python benchmarks/intake.py --database-url postgres://postgres@127.0.0.1:5432/bench_aftersales
    .venv/bin/python benchmarks/intake.py --both

It builds its own database (migrate + `seed`), starts gunicorn on a free port of 127.0.0.1
(the production WSGI server, `--workers` processes), and N client threads POST
`/api/v1/cases` with a bearer token and an Idempotency-Key, each on its own keep-alive
connection. The in-process reference opens the same kind of cases by calling
`cases.services.case_open` directly in one thread: the ratio shows what HTTP, JSON, auth and
the API layer cost on top of the service. Nothing here asserts a time.
"""

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

import _common as common  # noqa: E402

SUBJECTS = (
    "冰箱不制冷",
    "空调漏水",
    "手表无法充电",
    "电视屏幕闪烁",
    "App无法添加设备",
    "洗衣机异响",
)


@dataclass
class Target:
    customer_id: int
    unit_id: int | None


@dataclass
class ClientStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)


def _payload(rng: random.Random, target: Target) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": target.customer_id,
        "channel": rng.choice(("phone", "phone", "app", "web", "email")),
        "subject": rng.choice(SUBJECTS),
        "description": "基准测试受理：客户来电反映故障，请安排处理。",
        "urgency": rng.choice(("normal", "normal", "high", "low")),
    }
    if target.unit_id is not None:
        body["unit_id"] = target.unit_id
    if rng.random() < 0.5:
        body["nature"] = "hardware"
        body["subcategory"] = "other"
    return body


def _client(
    port: int, key: str, targets: list[Target], count: int, seed: int, stats: ClientStats
) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for _ in range(count):
        body = json.dumps(_payload(rng, rng.choice(targets))).encode()
        started = time.perf_counter()
        try:
            conn.request(
                "POST",
                "/api/v1/cases",
                body=body,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            response = conn.getresponse()
            response.read()
            status = response.status
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            status = 599
        stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status != 201:
            stats.errors[status] = stats.errors.get(status, 0) + 1
    conn.close()


def _wait_until_up(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up within 60 s")


def over_http(
    db: common.BenchDatabase,
    *,
    key: str,
    targets: list[Target],
    requests: int,
    clients: int,
    workers: int,
) -> tuple[float, list[float], dict[int, int]]:
    """(cases per second, latencies in ms, error counts by status) of `requests` POSTs."""
    port = common.free_port()
    log = db.tmpdir / "gunicorn.log"
    command = [
        str(common.BIN / "gunicorn"),
        "aftersales.config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=db.env(), stdout=out, stderr=out, cwd=common.ROOT)
    try:
        _wait_until_up(port, server, log)
        warmup = ClientStats()
        _client(port, key, targets, 20, 0, warmup)
        stats = [ClientStats() for _ in range(clients)]
        share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
        threads = [
            threading.Thread(target=_client, args=(port, key, targets, n, i + 1, s))
            for i, (n, s) in enumerate(zip(share, stats, strict=True))
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    latencies = [ms for s in stats for ms in s.latencies_ms]
    errors: dict[int, int] = {}
    for s in stats:
        for status, n in s.errors.items():
            errors[status] = errors.get(status, 0) + n
    ok = len(latencies) - sum(errors.values())
    return ok / elapsed, latencies, errors


def in_process(*, targets: list[Target], count: int) -> tuple[float, list[float]]:
    """(cases per second, latencies in ms) of `count` direct `case_open` calls, one thread."""
    from aftersales.accounts.models import User
    from aftersales.cases.services import case_open
    from aftersales.catalog.models import Unit
    from aftersales.customers.models import Customer

    agent = User.objects.get(username="agent")
    customers = Customer.objects.in_bulk([t.customer_id for t in targets])
    units = Unit.objects.select_related("model__line").in_bulk(
        [t.unit_id for t in targets if t.unit_id]
    )
    rng = random.Random(99)
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        target = rng.choice(targets)
        body = _payload(rng, target)
        t0 = time.perf_counter()
        case_open(
            actor=agent,
            customer=customers[target.customer_id],
            unit=units[target.unit_id] if target.unit_id else None,
            channel=body["channel"],
            subject=body["subject"],
            description=body["description"],
            nature=body.get("nature", ""),
            subcategory=body.get("subcategory", ""),
            urgency=body["urgency"],
            idempotency_key=uuid.uuid4().hex,
        )
        latencies.append((time.perf_counter() - t0) * 1000)
    return count / (time.perf_counter() - started), latencies


def main() -> int:
    parser = common.arguments(__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="HTTP requests to time")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="gunicorn worker processes"
    )
    parser.add_argument("--scale", type=int, default=1, help="seed scale of the database")
    args = parser.parse_args()
    if args.both:
        return common.run_both(__file__, sys.argv[1:])

    with common.bench_database(args.database_url, keep=args.keep) as db:
        print(f"Preparing the {db.engine} database (migrate, seed --scale {args.scale}) ...")
        common.aftersales(db, "migrate", "--noinput", "-v0")
        seed_seconds = common.aftersales(db, "seed", "--scale", str(args.scale), "-v0")
        common.django_setup(db)

        from aftersales.accounts.models import User
        from aftersales.accounts.services import api_token_create
        from aftersales.cases.models import Case
        from aftersales.catalog.models import Unit

        agent = User.objects.get(username="agent")
        _, key = api_token_create(user=agent, name="benchmark")
        units = list(Unit.objects.filter(customer__isnull=False).values_list("customer_id", "id"))
        rng = random.Random(7)
        targets = [Target(c, u if rng.random() < 0.8 else None) for c, u in units[:2000]]
        cases_before = Case.objects.count()

        rate_http, lat_http, errors = over_http(
            db,
            key=key,
            targets=targets,
            requests=args.requests,
            clients=args.clients,
            workers=args.workers,
        )
        created_http = Case.objects.count() - cases_before
        rate_direct, lat_direct = in_process(targets=targets, count=args.requests)

        common.header("Intake benchmark (POST /api/v1/cases)", db)
        print(
            f"data: {cases_before:,} seeded cases (seed took {seed_seconds:.0f} s); "
            f"HTTP: gunicorn {args.workers} workers x 4 threads, {args.clients} client "
            f"threads, {args.requests} timed requests after 20 warm-up"
        )
        print()
        rows = [
            [
                "HTTP API (201 Created)",
                rate_http,
                common.median(lat_http),
                common.percentile(lat_http, 95),
                common.percentile(lat_http, 99),
                sum(errors.values()),
            ],
            [
                "case_open() in-process, 1 thread",
                rate_direct,
                common.median(lat_direct),
                common.percentile(lat_direct, 95),
                common.percentile(lat_direct, 99),
                0,
            ],
        ]
        print(
            common.table(
                ["path", "cases/s", "median ms", "p95 ms", "p99 ms", "errors"],
                rows,
            )
        )
        print()
        print(f"HTTP / in-process throughput ratio: {rate_http / rate_direct:.2f}")
        print(f"cases created over HTTP (incl. warm-up): {created_http:,}")
        if errors:
            print(f"errors by HTTP status: {errors}")
        from django.db import connections

        connections.close_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
