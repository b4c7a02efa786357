"""The in-process scheduler of the embedded default runs the beat schedule's tasks when due."""

from typing import Any

from aftersales.core.scheduler import EmbeddedScheduler
from aftersales.sla.models import SweepRun

INTERVAL_TASKS = {"sla-sweep", "routing-sweep", "integrations-webhooks-retry"}


def test_interval_tasks_run_at_start_and_then_wait_for_their_interval(db: Any, caplog: Any) -> None:
    scheduler = EmbeddedScheduler()
    ran = scheduler.run_due()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    # The SLA, routing and webhook-retry sweeps are due at once; the nightly and monthly jobs
    # (tiers, retention, throttle pruning, holiday sync) wait for their time.
    assert set(ran) == INTERVAL_TASKS
    assert SweepRun.objects.count() == 1
    assert scheduler.run_due() == []
    assert SweepRun.objects.count() == 1


def test_a_failing_task_does_not_stop_the_others(db: Any, monkeypatch: Any, caplog: Any) -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("aftersales.sla.tasks.sla_sweep", broken)
    scheduler = EmbeddedScheduler()
    ran = scheduler.run_due()
    assert set(ran) == INTERVAL_TASKS
    # Only the broken task failed; the routing sweep after it ran through.
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert failures == ["scheduled task sla.sweep failed"]
    assert SweepRun.objects.count() == 0
