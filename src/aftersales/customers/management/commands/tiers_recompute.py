"""`aftersales tiers_recompute`: compute every live customer's value tier now."""

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from aftersales.customers.services import tiers_recompute


class Command(BaseCommand):
    help = (
        "Compute every live customer's value tier (VIP / regular / low) from purchases, usage "
        "and feedback under the active tier policy, as the nightly task does."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        show = options["verbosity"] > 0
        with tqdm(desc="customers", unit="customer", disable=not show) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            run = tiers_recompute(progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"{run.customers} customers: {run.vip} VIP, {run.regular} regular, {run.low} low "
                f"(computed); {run.changed} moved, {run.kept_by_override} kept by an override, "
                f"{run.overrides_expired} overrides expired. Cut-offs: VIP >= {run.vip_cutoff}, "
                f"low <= {run.low_cutoff}."
            )
        )
