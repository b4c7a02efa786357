"""Key rotation (密钥轮换): re-encrypt every encrypted value under the primary key, and rebuild
every blind index under the current index key. `aftersales reencrypt` is the command.

Every `EncryptedTextField` and `BlindIndexField` of every installed model is found from the
model registry, so a field added later is rotated with no change here.

Re-encryption works in batches ordered by primary key, each in its own transaction. A value
already under the primary key is not touched, so a run that was stopped (killed, or ended by
`limit`) simply continues where it stopped when started again. Each value is rewritten only if
it is still the one that was read (compare-and-set), so a concurrent edit by the application is
never overwritten with stale text. Values in the clear (from before a field was encrypted) are
encrypted; values that no configured key opens are counted and left alone.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from . import crypto
from .fields import BlindIndexField, EncryptedTextField, blind_index_fields, encrypted_fields
from .services import audit_record

Progress = Callable[[int], object]  # e.g. a tqdm bar's `update`
PLAINTEXT = "plaintext"


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[models.Model]
    field: EncryptedTextField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    def _raw(self) -> Cast:
        # The stored text itself: a plain TextField output is not decrypted on the way out.
        return Cast(self.field.name, output_field=models.TextField())

    def stored(self) -> "models.QuerySet[Any]":
        """Rows with a non-empty stored value, annotated with that value as `raw`."""
        return (
            self.model._base_manager.annotate(raw=self._raw())
            .exclude(raw__isnull=True)
            .exclude(raw="")
        )

    def pending(self) -> "models.QuerySet[Any]":
        """Rows whose value is not (yet) under the primary key."""
        prefix = f"{crypto.PREFIX}.{crypto.primary_key_id()}."
        return self.stored().exclude(raw__startswith=prefix)

    def rewrite(self, pk: Any, raw: str, plain: str) -> bool:
        """Store `plain` under the primary key if the row still holds `raw`."""
        changed = self.model._base_manager.filter(Exact(self._raw(), raw), pk=pk).update(
            **{self.field.name: plain}
        )
        return bool(changed)


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of every installed (concrete, managed) model."""
    return [
        EncryptedColumn(model, f)
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
        for f in encrypted_fields(model)
    ]


def indexed_models() -> list[tuple[type[models.Model], list[BlindIndexField]]]:
    """Every model with blind indexes, and its blind-index fields."""
    return [
        (model, blind_index_fields(model))
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and blind_index_fields(model)
    ]


def key_census(column: EncryptedColumn) -> dict[str, int]:
    """How many values of the column are under each configured key id, in the clear, or under
    a key that is not configured (`unknown`)."""
    stored = column.stored()
    counts = {
        kid: stored.filter(raw__startswith=f"{crypto.PREFIX}.{kid}.").count()
        for kid in crypto.key_ids()
    }
    counts[PLAINTEXT] = stored.exclude(raw__startswith=f"{crypto.PREFIX}.").count()
    counts["unknown"] = stored.count() - sum(counts.values())
    return counts


@dataclass
class RotationResult:
    rewritten: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    limited: bool = False  # stopped by `limit` before the end

    @property
    def total(self) -> int:
        return sum(self.rewritten.values())


def _batches(
    queryset: "models.QuerySet[Any]", size: int, *fields: str
) -> Iterator[list[tuple[Any, ...]]]:
    last: Any = None
    while True:
        qs = queryset if last is None else queryset.filter(pk__gt=last)
        rows = list(qs.order_by("pk").values_list("pk", *fields)[:size])
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _plain_of(raw: str) -> str | None:
    """The plain text of a stored value, or None if no configured key opens it."""
    if not crypto.looks_encrypted(raw):
        return raw  # stored before the field was encrypted
    try:
        return crypto.decrypt(raw)
    except crypto.DecryptionError:
        return None


def reencrypt_column(
    column: EncryptedColumn,
    result: RotationResult,
    *,
    batch_size: int = 500,
    limit: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Re-encrypt the column's values that are not under the primary key, batch by batch."""
    label = column.label
    for rows in _batches(column.pending(), batch_size, "raw"):
        with transaction.atomic():
            for pk, raw in rows:
                if limit is not None and result.total >= limit:
                    result.limited = True
                    return
                plain = _plain_of(raw)
                if plain is None:
                    result.failed[label] = result.failed.get(label, 0) + 1
                elif column.rewrite(pk, raw, plain):
                    result.rewritten[label] = result.rewritten.get(label, 0) + 1
        if progress:
            progress(len(rows))


def rebuild_blind_indexes(
    model: type[models.Model],
    fields: list[BlindIndexField],
    result: RotationResult,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> None:
    """Recompute the model's blind indexes under the current `BLIND_INDEX_KEY`; rows whose
    indexes are already current are not written."""
    label = model._meta.label
    sources = {f.source for f in fields} | {f.purpose_field for f in fields if f.purpose_field}
    names = [f.name for f in fields]
    base = model._base_manager.all()
    last: Any = None
    while True:
        with transaction.atomic():
            qs = base if last is None else base.filter(pk__gt=last)
            # Locked in pk order (no deadlocks), so an edit cannot slip between read and write.
            batch = list(qs.select_for_update().order_by("pk").only(*sources, *names)[:batch_size])
            if not batch:
                return
            last = batch[-1].pk
            changed = []
            for obj in batch:
                values = {f.name: f.compute(obj) for f in fields}
                if any(getattr(obj, n) != v for n, v in values.items()):
                    for n, v in values.items():
                        setattr(obj, n, v)
                    changed.append(obj)
            if changed:
                model._base_manager.bulk_update(changed, names)
                result.rewritten[label] = result.rewritten.get(label, 0) + len(changed)
        if progress:
            progress(len(batch))


def rotation_record(*, result: RotationResult, blind_index: bool) -> None:
    """One audit row for a run that changed something (counts only, never values)."""
    if not result.rewritten and not result.failed:
        return
    with transaction.atomic():
        audit_record(
            actor=None,
            action="crypto.blind_index_rebuilt" if blind_index else "crypto.reencrypted",
            entity="crypto",
            entity_id=0,
            data={
                "primary_key_id": crypto.primary_key_id(),
                "rewritten": result.rewritten,
                "failed": result.failed,
                "complete": not result.limited,
            },
        )
