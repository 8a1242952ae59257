"""Placement and look-ups: each record's grid (by point, by the placement rule `grid_containing`, see
grid.selectors.territory, for all points in one query; else by grid code, household or a household's address),
its references (households, branches, employers, parents), and the refusals of rows out of the importer's reach.
"""

import hashlib

from django.db import connection
from django.utils.translation import gettext as _

from grid.models import Grid
from layers.io.imports.report import KEY_REFUSED, Report
from layers.io.mapping import Mapping
from layers.io.specs import IMPORTS, ImportSpec
from layers.models import SENSITIVE_CATEGORIES, Household, ImportJob, Organization, PersonCategory


def place(job: ImportJob, records: list[dict], mapping: Mapping, report: Report, scope: set[int] | None) -> None:
    """Grid of each record (point, else named grid, household, address); references (households, employers…)."""
    layer = job.layer
    spec = IMPORTS[layer]
    names = {t: c for c, t in mapping.columns.items()}
    with connection.cursor() as cursor:
        _place_points(cursor, records)
        found = _found(cursor, records, names, scope)
        for record in records:
            _place_record(record, spec, names, found, report, scope)
        if layer == "people":
            resolve_people_references(cursor, records, mapping, report, names)
        if layer == "organizations":
            _check_parents(cursor, records, names, report)


def _place_points(cursor, records: list[dict]) -> None:
    """Every record with a point placed, in one statement, by the placement rule (grid.selectors.territory)."""
    # in spatial order, so that consecutive points mostly fall in the same grid: PostGIS then reuses
    # that grid's prepared (indexed) polygon instead of preparing it again (about 3x faster)
    located = sorted(
        (r for r in records if r["lon"] is not None), key=lambda r: (int(r["lon"] * 500), int(r["lat"] * 500))
    )
    grid_of_point: dict[int, int] = {}
    if located:
        cursor.execute(
            "SELECT p.i, grid_containing(ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)) "
            "FROM unnest(%s::int[], %s::float8[], %s::float8[]) AS p(i, x, y)",
            [list(range(len(located))), [r["lon"] for r in located], [r["lat"] for r in located]],
        )
        grid_of_point = {i: g for i, g in cursor.fetchall() if g is not None}
    for i, record in enumerate(located):
        record["grid_id"] = grid_of_point.get(i)
        record["placed_by"] = "point"


def _found(cursor, records: list[dict], names: dict[str, str], scope: set[int] | None) -> tuple[dict, dict, dict]:
    """What places the records without a point: grids by code, households by number and by address."""
    grids, households_table = Grid._meta.db_table, Household._meta.db_table
    grid_codes = lookup(
        cursor, f"SELECT code, id FROM {grids} WHERE code = ANY(%s)", {r["grid"] for r in records if r.get("grid")}
    )
    # households (by number or address) only in the scope: another area's are answered as absent ones
    in_scope, scope_params = ("", []) if scope is None else (" AND h.grid_id = ANY(%s)", [sorted(scope)])
    households = {}
    if "household" in names:
        cursor.execute(
            f"SELECT code, id, grid_id FROM {households_table} h WHERE code = ANY(%s)" + in_scope,
            [sorted({r["household"] for r in records if r.get("household")}), *scope_params],
        )
        households = {code: (pk, grid) for code, pk, grid in cursor.fetchall()}
    by_address = {}
    needs_address = [r for r in records if r["lon"] is None and r.get("address")]
    if needs_address:
        cursor.execute(
            "SELECT DISTINCT ON (h.address) h.address, h.grid_id, ST_X(h.location), ST_Y(h.location) "
            f"FROM {households_table} h LEFT JOIN {grids} g ON g.id = h.grid_id WHERE h.address = ANY(%s)"
            + in_scope
            + " ORDER BY h.address, (h.grid_id IS NULL), g.code",
            [sorted({r["address"] for r in needs_address}), *scope_params],
        )
        by_address = {a: (g, x, y) for a, g, x, y in cursor.fetchall()}
    return grid_codes, households, by_address


def _place_record(
    record: dict,
    spec: ImportSpec,
    names: dict[str, str],
    found: tuple[dict, dict, dict],
    report: Report,
    scope: set[int] | None,
) -> None:
    """The record's household and grid (its point's, else a household's, a named grid's, an address's), and the
    report's entry where it has none, or one out of the scope."""
    grid_codes, households, by_address = found
    unrestricted = scope is None
    row = record["_row"]
    household = record.get("household")
    if household:
        match = households.get(household)
        if match is None:
            report.add(row, names["household"], _("no household numbered %(code)s") % {"code": household})
        else:
            record["household_id"] = match[0]
            if record.get("grid_id") is None and match[1] is not None and "placed_by" not in record:
                record["grid_id"], record["placed_by"] = match[1], "household"
    if record.get("grid") and "placed_by" not in record:
        if record["grid"] in grid_codes:
            record["grid_id"], record["placed_by"] = grid_codes[record["grid"]], "grid"
        else:
            report.add(row, names["grid"], _("no grid coded %(code)s") % {"code": record["grid"]})
            return
    if "placed_by" not in record and record.get("address") in by_address:
        grid, x, y = by_address[record["address"]]
        record["grid_id"], record["placed_by"] = grid, "address"
        if spec.point_required and x is not None:
            record["lon"], record["lat"] = x, y
    if record.get("_bad_point"):
        return  # its coordinates are reported already
    if spec.point_required and record["lon"] is None:
        report.add(
            row,
            names.get("lon") or names.get("address"),
            _("no coordinates, and the address matches no household with a location"),
        )
        return
    grid = record.get("grid_id")
    if grid is None:
        if record.get("placed_by") == "point":
            problem = _("the point (%(lon).6f, %(lat).6f) lies in no grid") % {
                "lon": record["lon"],
                "lat": record["lat"],
            }
        else:
            problem = _("no coordinates, and no household or address that places it in a grid")
        report.add(
            row,
            names.get("lon") or names.get("household") or names.get("address"),
            problem,
            "warning" if unrestricted else "error",
        )
    elif not unrestricted and grid not in scope:
        report.add(
            row,
            names.get("lon") or names.get("household") or names.get("address") or names.get("grid"),
            _("the row lies outside your area (grid %(grid)s)") % {"grid": _grid_code(grid)},
        )


def _check_parents(cursor, records: list[dict], names: dict[str, str], report: Report) -> None:
    """Organizations whose parent is neither stored nor in the file."""
    parents = {r["parent_code"] for r in records if r.get("parent_code")}
    known = set(lookup(cursor, f"SELECT code, id FROM {Organization._meta.db_table} WHERE code = ANY(%s)", parents))
    in_file = {r["code"] for r in records}
    for record in records:
        code = record.get("parent_code")
        if code and code not in known and code not in in_file:
            report.add(record["_row"], names["parent_code"], _("no organization coded %(code)s") % {"code": code})


def refuse_sensitive(records: list[dict], mapping: Mapping, report: Report) -> None:
    """Rows that would give a person a sensitive category: refused to an importer without clearance."""
    column = next((c for c, t in mapping.columns.items() if t == "categories"), None)
    for record in records:
        sensitive = sorted(SENSITIVE_CATEGORIES & set(record.get("categories") or ()))
        if sensitive:
            report.add(
                record["_row"],
                column,
                _("the categories %(categories)s can only be written by an account with clearance")
                % {"categories": ", ".join(str(PersonCategory(c).label) for c in sensitive)},
            )


def writable_sql(layer: str, scope: set[int] | None, *, cleared: bool) -> tuple[str, list] | None:
    """The condition on a stored row `t` of the layer that the importer may write (None: any row), and its
    parameters: its grid in the scope and, without clearance, no sensitive category (such people are invisible)."""
    if scope is None:
        return None
    sql, params = "t.grid_id = ANY(%s)", [sorted(scope)]
    if layer == "people" and not cleared:
        sql += " AND NOT t.categories && %s::varchar[]"
        params.append(sorted(SENSITIVE_CATEGORIES))
    return sql, params


def refuse_unwritable(
    layer: str, records: list[dict], mapping: Mapping, report: Report, writable: tuple[str, list]
) -> None:
    """Rows whose key matches a stored row the importer may not write, each refused with KEY_REFUSED."""
    spec = IMPORTS[layer]
    key = spec.match
    keys = [r[key] for r in records if r.get(key)]
    if not keys:
        return
    sql, params = writable
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.{key} FROM {spec.table} t WHERE t.{key} = ANY(%s) AND NOT COALESCE({sql}, false)",
            [keys, *params],
        )
        refused = {k for (k,) in cursor.fetchall()}
    if not refused:
        return
    column = next((c for c, t in mapping.columns.items() if t == spec.key), None)
    for record in records:
        if record.get(key) in refused:
            report.add(record["_row"], column, str(KEY_REFUSED))


def _grid_code(pk: int) -> str:
    return Grid.objects.filter(pk=pk).values_list("code", flat=True).first() or str(pk)


def lookup(cursor, sql: str, values: set) -> dict:
    if not values:
        return {}
    cursor.execute(sql, [sorted(values)])
    return dict(cursor.fetchall())


def resolve_people_references(
    cursor, records: list[dict], mapping: Mapping, report: Report, names: dict[str, str]
) -> None:
    organizations = Organization._meta.db_table
    codes = sorted({r["branch_code"] for r in records if r.get("branch_code")})
    branches = {}
    if codes:
        cursor.execute(
            f"SELECT code, id FROM {organizations} WHERE code = ANY(%s) AND kind = ANY(%s)",
            [codes, sorted(Organization.PARTY_KINDS)],
        )
        branches = dict(cursor.fetchall())
    for record in records:
        code = record.get("branch_code")
        if code:
            if code in branches:
                record["branch_id"] = branches[code]
            else:
                report.add(
                    record["_row"], names["branch_code"], _("no party organization coded %(code)s") % {"code": code}
                )
    # employers: by credit code; by name alone when the file has no code (matched to an existing
    # organization of that name, else created under a code derived from the name, so re-imports match it)
    unnamed = {r["employer_name"] for r in records if r.get("employer_name") and not r.get("employer_code")}
    by_name = {}
    if unnamed:
        cursor.execute(
            f"SELECT DISTINCT ON (name) name, code FROM {organizations} WHERE name = ANY(%s) ORDER BY name, code",
            [sorted(unnamed)],
        )
        by_name = dict(cursor.fetchall())
    for record in records:
        name, code = record.get("employer_name"), record.get("employer_code")
        if name and not code:
            record["employer_code"] = by_name.get(name) or "N-" + hashlib.sha256(name.encode()).hexdigest()[:20]
        elif code and not name:
            record["employer_name"] = ""
    record_kind = mapping.employer_kind
    for record in records:
        if record.get("employer_code"):
            record["employer_kind"] = record_kind


def existing_keys(layer: str, keys: list[str]) -> set[str]:
    """The keys (the spec's `match` column) that the layer holds already."""
    spec = IMPORTS[layer]
    column = spec.match
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {spec.table} WHERE {column} = ANY(%s)", [keys])
        return {k for (k,) in cursor.fetchall()}
