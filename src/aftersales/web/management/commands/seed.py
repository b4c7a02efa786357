"""`aftersales seed`: load the demo data set (see `aftersales.web.demo`)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.web import demo


class Command(BaseCommand):
    help = (
        "Build the demo data set: teams, staff logins, catalog, customers and units, 826 "
        "cases over the last two months with their return visits and surveys, and about 60 "
        "complaints, all pushed through the real services. --scale N adds "
        "(N-1)x more customers and cases (bulk-written) for benchmarks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if teams, customers, cases or demo accounts already exist.",
        )
        parser.add_argument(
            "--scale",
            type=int,
            default=1,
            help="Multiply customers and cases (e.g. 121 gives about 100,000 cases).",
        )
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED, help="Random seed (deterministic)."
        )
        parser.add_argument(
            "--cases",
            type=int,
            default=demo.BASE_CASES,
            help="Cases at scale 1 (default: the department's 826 in two months).",
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=demo.BASE_CUSTOMERS,
            help="Customers at scale 1.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["scale"] < 1:
            raise CommandError("--scale must be 1 or more.")
        if options["cases"] < 1 or options["customers"] < 2:
            raise CommandError("--cases must be 1 or more and --customers 2 or more.")
        if demo.has_data():
            if options["if_empty"]:
                self.stdout.write("The database already has data; demo seed skipped (--if-empty).")
                # A database seeded before MFA existed: its demo logins still need a device.
                added = demo.demo_mfa_ensure()
                if added:
                    self.stdout.write(f"  gave {added} demo accounts their demo authenticator")
                return
            raise CommandError(
                "The database already has data. Seed an empty database (e.g. after `aftersales "
                "flush`), or pass --if-empty to skip quietly."
            )
        report = demo.seed_demo(
            seed=options["seed"],
            scale=options["scale"],
            cases=options["cases"],
            customers=options["customers"],
            show_progress=options["verbosity"] > 0,
        )
        total = report.cases or 1
        natures = ", ".join(
            f"{n or 'unclassified'} {c} ({100 * c / total:.1f}%)"
            for n, c in sorted(report.natures.items(), key=lambda kv: -kv[1])
        )
        statuses = ", ".join(
            f"{s} {c}" for s, c in sorted(report.statuses.items(), key=lambda kv: -kv[1])
        )
        bulk = f" ({report.bulk_cases} bulk-written)" if report.bulk_cases else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready in {report.seconds:.1f} s: {report.teams} teams, "
                f"{report.staff} staff, {report.product_models} product models, "
                f"{report.customers} customers, {report.units} units, {report.cases} cases"
                f"{bulk}, {report.case_events} case events."
            )
        )
        self.stdout.write(f"  natures: {natures}")
        self.stdout.write(f"  statuses: {statuses}")
        complaints = ", ".join(f"{s} {c}" for s, c in sorted(report.complaints.items()))
        visits = ", ".join(f"{s} {c}" for s, c in sorted(report.return_visits.items()))
        self.stdout.write(
            f"  complaints: {sum(report.complaints.values())} ({complaints}); return visits: "
            f"{sum(report.return_visits.values())} ({visits}); surveys answered: {report.surveys}"
        )
        if report.parts is not None:
            parts = report.parts
            self.stdout.write(
                f"  spare parts: {parts.parts} parts, {parts.locations} locations, "
                f"{parts.history_rows} rows of imported demand history, {parts.issues} issued to "
                f"repairs, {parts.open_reservations} reserved for open cases, "
                f"{parts.backorders} backorders ({parts.scarce_part} scarce); "
                f"{parts.draft_orders} draft purchase orders and {parts.suggested_transfers} "
                f"suggested transfers to approve ({parts.seconds:.1f} s, "
                f"{parts.cpu_seconds:.1f} s CPU)"
            )
        self.stdout.write("  logins, authenticator codes and demo callers: aftersales demo_info")
