"""What each layer exports: its registry attributes as typed columns, and a chunk's values as the arrays (and null
masks) the writers take.

Only personal attributes (ID-card number, phone) take a Python step per row: they are decrypted and, unless the
account has clearance, masked by the registry's own `Attribute.read`.
"""

from dataclasses import dataclass

import numpy as np
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone

from layers.registry import Attribute, Layer


class _PathRow:
    """Stands in for a model instance in `Attribute.read`, which only walks attributes (`row.grid.code`).

    Reading: each attribute step extends an ORM path, and a complete path gives its fetched value. Probing
    (`seen` given, no values): the steps are recorded, so that a plain attribute becomes one `values()` column
    (`grid__code`) and a computed one (a masked ID-card number) names the columns its Python read needs.
    """

    __slots__ = ("_values", "_prefix", "_seen")

    def __init__(self, values: dict | None, prefix: str = "", seen: list | None = None):
        self._values, self._prefix, self._seen = values, prefix, seen

    def __getattr__(self, name: str):
        path = self._prefix + name
        if self._seen is not None:
            self._seen.append(path)
            return _PathRow(None, path + "__", self._seen)
        if path in self._values:
            return self._values[path]
        return _PathRow(self._values, path + "__")

    def __bool__(self) -> bool:  # while probing, a value is "empty": computed reads stop early and harmlessly
        return self._seen is None


@dataclass(frozen=True)
class Column:
    """One attribute as it is exported: where its values come from and what type the file gives them."""

    attribute: Attribute
    kind: str  # text, int, float, bool, date, datetime, list, personal
    path: str | None = None  # the values() column of a plain attribute
    sources: tuple[str, ...] = ()  # the values() columns a personal (Python) read needs

    @property
    def name(self) -> str:
        return self.attribute.name


def _probe(attribute: Attribute) -> tuple[object, list[str]]:
    seen: list[str] = []
    probe = _PathRow(None, "", seen)
    try:
        result = attribute.read(probe)
    except Exception:  # noqa: BLE001 - a computed read may trip over the stand-in; the recorded paths count
        result = None
    return result, seen


def _model_field(model: type[models.Model], path: str) -> models.Field:
    current, found = model, None
    for part in path.split("__"):
        found = current._meta.get_field(part)
        if found.is_relation and found.related_model is not None:
            current = found.related_model
    return found


def _kind(model_field: models.Field) -> str:
    if isinstance(model_field, ArrayField):
        return "list"
    if isinstance(model_field, models.BooleanField):
        return "bool"
    if isinstance(model_field, models.DateTimeField):
        return "datetime"
    if isinstance(model_field, models.DateField):
        return "date"
    if isinstance(model_field, models.IntegerField | models.AutoField) and not model_field.is_relation:
        return "int"
    if isinstance(model_field, models.FloatField | models.DecimalField):
        return "float"
    return "text"


def layer_columns(layer: Layer) -> list[Column]:
    """The layer's attributes as export columns, in the registry's order."""
    columns = []
    for attribute in layer.attributes:
        result, seen = _probe(attribute)
        leaves = tuple(p for p in dict.fromkeys(seen) if not any(o.startswith(p + "__") for o in seen))
        if attribute.personal or not (isinstance(result, _PathRow) and len(leaves) == 1):
            if not leaves:
                raise ValueError(f"layer {layer.name}: attribute {attribute.name} reads no field")
            columns.append(Column(attribute, "personal", sources=leaves))
            continue
        try:
            kind = _kind(_model_field(layer.model, leaves[0]))
        except FieldDoesNotExist as exc:
            raise ValueError(f"layer {layer.name}: attribute {attribute.name}: {exc}") from exc
        columns.append(Column(attribute, kind, path=leaves[0]))
    return columns


def _null_mask(values: list) -> np.ndarray | None:
    if None not in values:  # a scan in C: most columns have no null
        return None
    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    return mask if mask.any() else None


def _column_array(column: Column, values: list) -> tuple[np.ndarray, np.ndarray | None]:
    """The values of one column of a chunk as the array pyogrio writes, and the mask of its nulls."""
    kind = column.kind
    if kind in ("text", "list"):  # a list arrives joined by PostgreSQL (array_to_string), see fetch.chunks
        return np.array(values, dtype=object), None
    if kind in ("int", "bool"):
        mask = _null_mask(values)
        clean = values if mask is None else [0 if v is None else v for v in values]
        return np.array(clean, dtype=np.int64 if kind == "int" else np.bool_), mask
    if kind == "float":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64), None
    if kind == "date":
        return np.array(values, dtype="datetime64[D]"), None  # None → NaT → null
    if kind == "datetime":
        # ISO 8601 with the display zone's offset: unambiguous in every format (DBF has no date-time type)
        return np.array([None if v is None else timezone.localtime(v).isoformat() for v in values], dtype=object), None
    raise AssertionError(kind)


def _personal_array(column: Column, values: dict[str, list], *, unmasked: bool) -> np.ndarray:
    """A personal attribute of a chunk: decrypted and, unless the account has clearance, masked by its own read."""
    sources = [values[path] for path in column.sources]
    # clearance: the registry's full value (its read masks), audited with the export
    reveal = column.attribute.reveal if unmasked else None
    read, names = reveal or column.attribute.read, column.sources
    return np.array(
        [read(_PathRow(dict(zip(names, row, strict=True)))) for row in zip(*sources, strict=True)], dtype=object
    )


def column_arrays(
    columns: list[Column], values: dict[str, list], *, unmasked: bool
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """A chunk's values (by values() path) as one array per column, and each column's null mask (None: no null)."""
    data, masks = [], []
    for column in columns:
        if column.kind == "personal":
            data.append(_personal_array(column, values, unmasked=unmasked))
            masks.append(None)
        else:
            array, mask = _column_array(column, values[column.path])
            data.append(array)
            masks.append(mask)
    return data, masks
