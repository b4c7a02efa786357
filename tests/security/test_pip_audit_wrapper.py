"""`.ci/pip_audit`: a known vulnerability fails the build, an unreachable database does not but
says so loudly, and a pip-audit that breaks in another way fails the build.

The wrapper is run as CI runs it, with a stand-in `pip-audit` (PIP_AUDIT) that writes the report
the real one writes in each situation (its JSON format: dependencies with `vulns` or a
`skip_reason`)."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WRAPPER = Path(__file__).resolve().parents[2] / ".ci" / "pip_audit"

CLEAN = {"name": "django", "version": "5.2.8", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": []}],
}


def _unreachable(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} (1.0)",
    }


def _run(tmp_path: Path, *, report: dict[str, Any] | None, exit_code: int, stderr: str = "") -> Any:
    """Run the wrapper with a stand-in pip-audit that writes `report` and exits `exit_code`."""
    fake = tmp_path / "pip-audit"
    body = json.dumps(report) if report is not None else ""
    fake.write_text(
        "#!/usr/bin/env python3\n"
        "import sys\n"
        "args = sys.argv\n"
        f"report = {body!r}\n"
        "if report:\n"
        "    open(args[args.index('-o') + 1], 'w').write(report)\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return subprocess.run(
        [sys.executable, str(WRAPPER), "requirements.lock"],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_AUDIT": str(fake)},
        check=False,
    )


def test_a_known_vulnerability_fails_the_build(tmp_path: Path) -> None:
    run = _run(tmp_path, report={"dependencies": [CLEAN, VULNERABLE]}, exit_code=1)

    assert run.returncode == 1
    assert "VULNERABLE: jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.3)" in run.stdout


def test_a_vulnerability_fails_even_when_pip_audit_exits_zero(tmp_path: Path) -> None:
    """The report decides, not pip-audit's exit status."""
    run = _run(tmp_path, report={"dependencies": [VULNERABLE]}, exit_code=0)

    assert run.returncode == 1


def test_an_unreachable_database_passes_with_a_loud_count(tmp_path: Path) -> None:
    report = {"dependencies": [CLEAN, _unreachable("amqp"), _unreachable("anyio")]}

    run = _run(tmp_path, report=report, exit_code=0)

    assert run.returncode == 0
    assert "VULNERABILITY DATABASE UNREACHABLE: 2 of 3 packages not audited" in run.stdout
    assert "No known vulnerabilities in the 1 audited packages." in run.stdout


def test_unreachable_packages_do_not_hide_a_vulnerable_one(tmp_path: Path) -> None:
    report = {"dependencies": [VULNERABLE, _unreachable("amqp")]}

    run = _run(tmp_path, report=report, exit_code=1)

    assert run.returncode == 1
    assert "1 of 2 packages not audited" in run.stdout


def test_a_clean_audit_passes_quietly(tmp_path: Path) -> None:
    run = _run(tmp_path, report={"dependencies": [CLEAN, CLEAN]}, exit_code=0)

    assert run.returncode == 0
    assert "UNREACHABLE" not in run.stdout
    assert "No known vulnerabilities in the 2 audited packages." in run.stdout


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("requests.exceptions.ConnectionError: Max retries exceeded with url", 0),
        ("pip_audit: error: unrecognized arguments: --bogus", 2),
    ],
)
def test_without_a_report_only_a_connection_failure_passes(
    tmp_path: Path, stderr: str, expected: int
) -> None:
    run = _run(tmp_path, report=None, exit_code=2 if expected else 1, stderr=stderr)

    assert run.returncode == expected
    assert ("VULNERABILITY DATABASE UNREACHABLE" in run.stdout) == (expected == 0)
