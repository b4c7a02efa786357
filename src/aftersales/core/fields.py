"""Model fields for personal data: encrypted text, and the blind index that makes it findable.

`EncryptedTextField` holds AES-GCM ciphertext in the database and plain text in Python (see
`core.crypto`); it cannot be filtered, searched or ordered in SQL. `BlindIndexField` holds the
keyed HMAC of another field's normalised value, recomputed whenever the row is saved (also by
`bulk_create`), so exact-match look-ups work on the index instead. `aftersales reencrypt` finds
both kinds of field on every model to rotate the keys.
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.lookups import Exact

from . import crypto
from .names import leading_key, name_key

if TYPE_CHECKING:  # the fields read and write `str` (Django's classes are not generic at run time)
    from django.db.models.expressions import Combinable

    _TextField = models.TextField[str | Combinable, str]
    _CharField = models.CharField[str | Combinable, str]
else:
    _TextField, _CharField = models.TextField, models.CharField


class _EmptyOnlyExact(Exact):
    """`field=""` and `field=None` work (empty values are stored as they are); comparing with
    any other value would compare with a fresh ciphertext and silently match nothing."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise FieldError(
                "An encrypted field cannot be compared with a value in SQL; "
                "filter on its blind index instead."
            )
        return super().get_prep_lookup()


class EncryptedTextField(_TextField):
    """Text encrypted at rest with AES-GCM (see `core.crypto`); not searchable, not orderable.

    Only `isnull` and comparison with "" are allowed in queries; any other lookup is refused
    (a `FieldError`) instead of quietly finding nothing. `max_length` is checked by `full_clean`
    on the plain text (the column is unbounded: ciphertext is longer than its plain text).
    """

    description = "Encrypted text"

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return _EmptyOnlyExact
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # Django reports "Unsupported lookup ... for EncryptedTextField"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            self.validators.append(MaxLengthValidator(self.max_length))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))


def _identity(value: str) -> str:
    return value


# How each purpose normalises its source before hashing. Phones and e-mails are stored already
# normalised (E.164, lower case), so they are hashed as they are.
NORMALIZERS: dict[str, Callable[[str], str]] = {
    "name": name_key,
    "name_leading": leading_key,
    "phone": _identity,
    "email": _identity,
}


class BlindIndexField(_CharField):
    """Keyed HMAC blind index of the field `source` on the same row, kept current on save.

    The HMAC purpose is `purpose`, or the value of the field named `purpose_field` (a contact's
    kind: a phone never matches an e-mail). An empty source gives an empty index.
    """

    description = "Blind index"

    def __init__(
        self,
        *args: Any,
        source: str = "",
        purpose: str = "",
        purpose_field: str = "",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        self.source, self.purpose, self.purpose_field = source, purpose, purpose_field
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source)
        if self.purpose:
            kwargs["purpose"] = self.purpose
        if self.purpose_field:
            kwargs["purpose_field"] = self.purpose_field
        for key, default in (("max_length", 40), ("editable", False), ("blank", True)):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    def purpose_of(self, instance: models.Model) -> str:
        return str(getattr(instance, self.purpose_field)) if self.purpose_field else self.purpose

    def compute(self, instance: models.Model) -> str:
        """The index of `instance`'s current source value under the current index key."""
        purpose = self.purpose_of(instance)
        value = NORMALIZERS.get(purpose, _identity)(getattr(instance, self.source) or "")
        return crypto.blind_index(value, purpose=purpose) if value else ""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = self.compute(model_instance)
        setattr(model_instance, self.attname, value)
        return value


def blind_index_fields(model: type[models.Model]) -> list[BlindIndexField]:
    """The model's blind-index fields (what a key rotation or an erasure must recompute)."""
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]


def encrypted_fields(model: type[models.Model]) -> list[EncryptedTextField]:
    """The model's encrypted fields (what a key rotation must rewrite)."""
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


class BlindIndexedModel(models.Model):
    """Saving only some fields (`update_fields`) also saves the blind indexes derived from them."""

    class Meta:
        abstract = True

    def save(self, *args: Any, update_fields: Iterable[str] | None = None, **kwargs: Any) -> None:
        if update_fields is not None:
            fields = set(update_fields)
            for index in blind_index_fields(type(self)):
                if {index.source, index.purpose_field} & fields:
                    fields.add(index.name)
            update_fields = fields
        super().save(*args, update_fields=update_fields, **kwargs)
