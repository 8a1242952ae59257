"""What an import knows of each layer it can fill, declared once per layer of the registry (layers.registry).

An `ImportSpec` names the registry's layer (whose model gives the table, `model._meta.db_table`, and the
columns), the target that identifies a row, the targets a file's columns can map onto (`Target`, each text
target as long as the model field it fills), the columns the write fills (`Column`: the staged value, the
INSERT and the UPDATE expression), whether a row needs a point, and whether large files take the staged path
(layers.io.imports.staged).
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from django.db.models import Model

from grid.models import Grid
from layers.models import Household, Organization, Person, Place, Thing
from layers.registry import LAYERS, Layer


@dataclass(frozen=True)
class Target:
    name: str
    kind: str = "text"  # text, id_card, phone, date, bool, float, code, credit_code, or a choice set's name
    required: bool = False
    max_length: int | None = None


def _sized(name: str, model: type[Model], model_field: str | None = None, **kwargs) -> Target:
    """A target as long as the model's field it fills (`model_field`, where the target has another name)."""
    return Target(name, max_length=model._meta.get_field(model_field or name).max_length, **kwargs)


class Column(NamedTuple):
    """A column the write fills: its name in the table, its type in the staging table (None: not staged), the
    INSERT expression over the staged row `s` (NULL-safe), the UPDATE expression over `s` and the stored row
    `t` where the column is mapped (None: never updated)."""

    name: str
    sql_type: str | None
    insert: str | None
    update: str | None


# Expressions over the column `{c}`: a value every row has (required, or defaulted), an empty text for none;
# an update that keeps the stored value where the file has none (an empty text, or NULL).
AS_IS = "s.{c}"
OR_EMPTY = "COALESCE(s.{c}, '')"
KEEP_IF_EMPTY = "COALESCE(NULLIF(s.{c}, ''), t.{c})"
KEEP_IF_NULL = "COALESCE(s.{c}, t.{c})"


def _column(model: type[Model], name: str, sql_type: str | None, insert: str | None, update: str | None) -> Column:
    """A Column of the model's field `name`, named as its table names it (a foreign key's `…_id`)."""
    column = model._meta.get_field(name).column
    return Column(column, sql_type, *(e.replace("{c}", column) if e else e for e in (insert, update)))


def _geometry(model: type[Model], name: str) -> Column:
    return _column(model, name, None, None, None)  # built from the staged lon/lat (and WKB) by the write


@dataclass(frozen=True)
class ImportSpec:
    layer: Layer
    key: str  # the target that identifies a row in a file
    targets: tuple[Target, ...]
    columns: tuple[Column, ...]
    defaults: dict[str, object] = field(default_factory=dict)  # what an empty or unmapped target takes
    match: str = "code"  # the stored column (and the record's key) that matches a row to a stored one
    conflict: str = "(code)"  # the INSERT's ON CONFLICT target: the unique index of `match`
    point_required: bool = False
    polygons: bool = False  # a geometry other than a point is taken too (staged as WKB)
    staged: bool = False  # files without geometries take the staged path

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def model(self) -> type[Model]:
        return self.layer.model

    @property
    def table(self) -> str:
        return self.model._meta.db_table


_POINT = (Target("lon", "float"), Target("lat", "float"))
_GRID = _sized("grid", Grid, "code", kind="code")


def _declare(*specs: ImportSpec) -> dict[str, ImportSpec]:
    return {spec.name: spec for spec in specs}


IMPORTS: dict[str, ImportSpec] = _declare(
    ImportSpec(
        layer=LAYERS["people"],
        key="id_card",
        match="id_card_hash",
        conflict="(id_card_hash) WHERE NOT (id_card_hash = '')",
        targets=(
            _sized("name", Person, required=True),
            Target("id_card", "id_card", required=True),
            Target("phone", "phone"),
            Target("gender", "gender"),
            Target("birth_date", "date"),
            _sized("household", Household, "code", kind="code"),
            _sized("address", Household),  # a household's address places the person
            *_POINT,
            _GRID,
            Target("categories", "categories"),
            _sized("platform", Person),
            Target("work_kind", "work_kind"),
            Target("employer_code", "credit_code"),
            _sized("employer_name", Organization, "name"),
            _sized("branch_code", Organization, "code", kind="code"),
            Target("mobile_member", "bool"),
        ),
        columns=(
            _column(Person, "name", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Person, "gender", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Person, "birth_date", "date", AS_IS, KEEP_IF_NULL),
            _column(Person, "id_card_hash", "text", AS_IS, None),
            _column(Person, "id_card_encrypted", "text", OR_EMPTY, None),
            _column(Person, "phone_hash", "text", OR_EMPTY, "CASE WHEN s.{c} <> '' THEN s.{c} ELSE t.{c} END"),
            _column(
                Person,
                "phone_encrypted",
                "text",
                OR_EMPTY,
                "CASE WHEN s.phone_hash <> '' AND s.phone_hash <> t.phone_hash THEN s.{c} ELSE t.{c} END",
            ),
            _column(Person, "household", "bigint", AS_IS, KEEP_IF_NULL),
            _geometry(Person, "location"),
            _column(Person, "grid", "bigint", AS_IS, KEEP_IF_NULL),
            _column(
                Person,
                "categories",
                "varchar(24)[]",
                "COALESCE(s.{c}, '{}')",
                "ARRAY(SELECT DISTINCT c FROM unnest(t.{c} || COALESCE(s.{c}, '{}')) c ORDER BY c)",
            ),
            _column(Person, "platform", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Person, "work_kind", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Person, "employer", "bigint", AS_IS, KEEP_IF_NULL),
            _column(Person, "branch", "bigint", AS_IS, KEEP_IF_NULL),
            _column(Person, "mobile_member", "boolean", "COALESCE(s.{c}, false)", KEEP_IF_NULL),
            _column(Person, "member_code", None, "''", None),  # given after the write, to new party members
        ),
    ),
    ImportSpec(
        layer=LAYERS["households"],
        key="code",
        staged=True,
        targets=(
            _sized("code", Household, kind="code", required=True),
            _sized("address", Household, required=True),
            _sized("building", Household),
            _sized("unit", Household),
            _sized("room", Household),
            *_POINT,
            _GRID,
        ),
        columns=(
            _column(Household, "code", "text", AS_IS, None),
            _column(Household, "address", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Household, "building", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Household, "unit", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Household, "room", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _geometry(Household, "location"),
            _column(Household, "grid", "bigint", AS_IS, KEEP_IF_NULL),
        ),
    ),
    ImportSpec(
        layer=LAYERS["places"],
        key="code",
        point_required=True,
        staged=True,
        defaults={"kind": Place.Kind.OTHER},
        targets=(
            _sized("code", Place, kind="code", required=True),
            _sized("name", Place, required=True),
            Target("kind", "place_kind"),
            _sized("address", Place),
            _sized("phone", Place),
            *_POINT,
            _GRID,
        ),
        columns=(
            _column(Place, "code", "text", AS_IS, None),
            _column(Place, "name", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Place, "kind", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Place, "address", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Place, "phone", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _geometry(Place, "location"),
            _column(Place, "grid", "bigint", AS_IS, KEEP_IF_NULL),
        ),
    ),
    ImportSpec(
        layer=LAYERS["things"],
        key="code",
        point_required=True,
        staged=True,
        defaults={"kind": Thing.Kind.OTHER},
        targets=(
            _sized("code", Thing, kind="code", required=True),
            _sized("name", Thing, required=True),
            Target("kind", "thing_kind"),
            Target("condition", "condition"),
            *_POINT,
            _sized("address", Household),  # a household's address gives the thing its point
            _GRID,
        ),
        columns=(
            _column(Thing, "code", "text", AS_IS, None),
            _column(Thing, "name", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Thing, "kind", "text", AS_IS, KEEP_IF_EMPTY),
            _column(
                Thing, "condition", "text", f"COALESCE(NULLIF(s.{{c}}, ''), '{Thing.Condition.OK}')", KEEP_IF_EMPTY
            ),
            _geometry(Thing, "location"),
            _column(Thing, "grid", "bigint", AS_IS, KEEP_IF_NULL),
        ),
    ),
    ImportSpec(
        layer=LAYERS["organizations"],
        key="code",
        polygons=True,
        defaults={"kind": Organization.Kind.ENTERPRISE},
        targets=(
            _sized("code", Organization, kind="code", required=True),
            _sized("name", Organization, required=True),
            Target("kind", "organization_kind"),
            _sized("parent_code", Organization, "code", kind="code"),
            _sized("address", Organization),
            _sized("phone", Organization),
            *_POINT,
            _GRID,
        ),
        columns=(
            _column(Organization, "code", "text", AS_IS, None),
            _column(Organization, "name", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Organization, "kind", "text", AS_IS, KEEP_IF_EMPTY),
            _column(Organization, "address", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _column(Organization, "phone", "text", OR_EMPTY, KEEP_IF_EMPTY),
            _geometry(Organization, "geometry"),
            _column(Organization, "grid", "bigint", AS_IS, KEEP_IF_NULL),
        ),
    ),
)
IMPORTABLE = tuple(IMPORTS)  # the layers an import can fill, in the order the API and the command list them
