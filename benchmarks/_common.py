"""Shared plumbing of the benchmarks: a throwaway database, the machine, statistics, tables.

Each benchmark builds its own database (a temporary SQLite file, or a PostgreSQL database it
drops and creates), migrates and seeds it with the real `aftersales` commands, then measures.
Django is configured in the benchmark process only after the database exists, from the same
environment the subprocesses get.
"""

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bench_aftersales"


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--database-url",
        default="",
        help=f"PostgreSQL URL of a database to (re)create, e.g. {DEFAULT_PG_URL}; "
        "default: a temporary SQLite file",
    )
    parser.add_argument(
        "--both", action="store_true", help="run on SQLite, then on PostgreSQL (the URL above)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the benchmark database afterwards"
    )
    return parser


def run_both(script: str, argv: Sequence[str]) -> int:
    """Re-run `script` once on SQLite and once on PostgreSQL, each in a fresh process."""
    rest = [a for a in argv if a != "--both"]
    url = DEFAULT_PG_URL
    if "--database-url" in rest:
        i = rest.index("--database-url")
        url = rest[i + 1] or DEFAULT_PG_URL
        del rest[i : i + 2]
    status = 0
    for extra in ([], ["--database-url", url]):
        done = subprocess.run([sys.executable, script, *rest, *extra], check=False)
        status = status or done.returncode
    return status


@dataclass
class BenchDatabase:
    """The throwaway database of one benchmark run."""

    url: str
    engine: str  # "sqlite" or "postgresql"
    tmpdir: Path

    def env(self) -> dict[str, str]:
        """Environment for `aftersales` subprocesses and for this process' Django."""
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.url,
                "DJANGO_SETTINGS_MODULE": "aftersales.config.settings.dev",
                "DEBUG": "false",
                "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
                "AFTERSALES_VAR_DIR": str(self.tmpdir / "var"),
                "LOG_LEVEL": "WARNING",
            }
        )
        return env


@contextmanager
def bench_database(database_url: str, *, keep: bool = False) -> Iterator[BenchDatabase]:
    """Create the benchmark database, yield it, drop it (unless `keep`)."""
    tmpdir = Path(tempfile.mkdtemp(prefix="aftersales-bench-"))
    try:
        if not database_url:
            db = BenchDatabase(f"sqlite:///{tmpdir / 'bench.sqlite3'}", "sqlite", tmpdir)
            yield db
        else:
            _pg_recreate(database_url)
            db = BenchDatabase(database_url, "postgresql", tmpdir)
            try:
                yield db
            finally:
                if not keep:
                    _close_django_connections()
                    _pg_drop(database_url)
    finally:
        if keep:
            print(f"kept {tmpdir}")
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _pg_admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"unsafe or missing database name in {url!r}")
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    admin = urlunsplit((scheme, parts.netloc, "/postgres", "", ""))
    return admin, name


def _pg_recreate(url: str) -> None:
    import psycopg

    admin, name = _pg_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _pg_drop(url: str) -> None:
    import psycopg

    admin, name = _pg_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _close_django_connections() -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


def aftersales(db: BenchDatabase, *args: str) -> float:
    """Run an `aftersales` management command against the benchmark database; seconds taken."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "aftersales"), *args], env=db.env(), check=True, cwd=ROOT)
    return time.perf_counter() - started


def django_setup(db: BenchDatabase) -> None:
    """Configure Django in this process for the benchmark database."""
    os.environ.update(db.env())
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the machine ------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**3 if pages else 0.0


def database_version() -> str:
    """Engine and server version of Django's default connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]} (WAL, synchronous=NORMAL)"
        cursor.execute("show server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    import django

    return [
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} logical"),
        ("RAM", f"{_ram_gib():.1f} GiB"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("Django", django.get_version()),
        ("database", database_version()),
    ]


# --- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), as used for latency reports."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(fn: Callable[[], Any], *, repeat: int, warmup: int = 2) -> list[float]:
    """Wall-clock milliseconds of `repeat` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in rows) and rows for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        out.append(
            "  ".join(
                c.rjust(w) if numeric[i] and n else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def header(title: str, db: BenchDatabase) -> None:
    print()
    print("=" * 78)
    print(f"{title} on {db.engine}")
    print("=" * 78)
    print(table(["machine", ""], machine()))
    print()
