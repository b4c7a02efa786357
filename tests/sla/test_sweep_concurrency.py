"""The sweep under real concurrency on PostgreSQL: two sweepers at once, a worker killed
mid-sweep, and real Celery workers on Redis. Nothing fires twice and nothing is missed."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_open
from aftersales.core import clock
from aftersales.sla.models import EscalationFiring, EscalationRule, SlaClock
from aftersales.sla.services import sla_sweep
from tests import factories
from tests.concurrency import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]

ROOT = Path(__file__).resolve().parents[2]


def _open_overdue_cases(agent: User, n: int) -> list[Case]:
    """`n` web requests opened ten days ago: every first response and resolution is overdue."""
    customer = factories.customer()
    cases = []
    with clock.frozen_at(clock.now() - dt.timedelta(days=10)):
        for i in range(n):
            case, _ = case_open(actor=agent, customer=customer, channel="web", subject=f"s{i}")
            cases.append(case)
    return cases


def _assert_each_once(expected_clocks: int) -> None:
    breaches = CaseEvent.objects.filter(kind="sla", data__change="breached")
    per_clock = breaches.values("case_id", "data__metric").annotate(n=Count("id"))
    assert len(per_clock) == expected_clocks
    assert {row["n"] for row in per_clock} == {1}
    assert SlaClock.objects.filter(breach_noticed_at__isnull=True).count() == 0
    breach_rules = EscalationRule.objects.filter(
        is_active=True, trigger="breach", metric="", policy=None
    ).count()
    assert EscalationFiring.objects.count() == expected_clocks * breach_rules
    # Every firing left exactly one timeline entry: none lost in a rollback, none doubled.
    assert CaseEvent.objects.filter(kind="escalated").count() == EscalationFiring.objects.count()


def test_two_sweepers_at_once_handle_each_clock_once(agent: User) -> None:
    cases = _open_overdue_cases(agent, 60)
    now = clock.now()
    counts = run_together([lambda: sla_sweep(now=now, batch_size=5).breaches] * 2)
    assert sum(counts) == 2 * len(cases)  # first response and resolution of each case
    _assert_each_once(2 * len(cases))


def _worker_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aftersales.config.settings.test",
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT / "src"),
    }


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_worker_killed_mid_sweep_loses_and_doubles_nothing(agent: User) -> None:
    cases = _open_overdue_cases(agent, 200)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aftersales.manage", "sla_sweep", "--batch-size", "5"],
        env=_worker_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until(
            lambda: EscalationFiring.objects.exists() or proc.poll() is not None,
            timeout=60,
            what="the worker's first committed batch",
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    handled = SlaClock.objects.filter(breach_noticed_at__isnull=False).count()
    assert 0 < handled < 2 * len(cases), "the kill must land mid-sweep"
    # The next sweep (a restarted worker, or beat's next tick) finishes the job.
    sla_sweep(now=clock.now())
    _assert_each_once(2 * len(cases))


@pytest.fixture
def celery_workers() -> Iterator[Any]:
    """Start real Celery workers on the Redis broker, consuming a queue of this test's own."""
    queue = f"sla-test-{uuid.uuid4().hex[:8]}"
    broker = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    env = {**_worker_env(), "REDIS_URL": broker}
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "aftersales.config.celery",
                "worker",
                "--pool=solo",
                "-Q",
                queue,
                "-n",
                f"{name}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "WARNING",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        return proc

    from celery import Celery

    app = Celery(broker=broker)

    def send() -> None:
        app.send_task("sla.sweep", queue=queue)

    try:
        yield start, send
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def test_real_workers_on_redis_sweep_once_even_when_one_is_killed(
    agent: User, celery_workers: Any
) -> None:
    start, send = celery_workers
    cases = _open_overdue_cases(agent, 200)
    # Two workers each take a sweep task and race over the same due clocks.
    first, second = start("w1"), start("w2")
    send()
    send()
    _wait_until(lambda: EscalationFiring.objects.exists(), timeout=90, what="a worker to sweep")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    # Beat's next tick: another sweep, which the surviving worker takes.
    send()
    expected = 2 * len(cases)
    _wait_until(
        lambda: SlaClock.objects.filter(breach_noticed_at__isnull=False).count() == expected,
        timeout=120,
        what="all breaches to be recorded",
    )
    _wait_until(lambda: second.poll() is None, timeout=1, what="the surviving worker")
    time.sleep(1.0)  # let any in-flight batch of the surviving worker commit
    _assert_each_once(expected)
