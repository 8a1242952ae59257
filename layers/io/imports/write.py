"""The row-by-row path's write: one transaction, the rows COPY'd chunk by chunk into a staging table, then one
UPDATE … FROM of the stored rows they match and one INSERT … SELECT of the others (the spec's columns and their
expressions, layers.io.specs); people's ID-card numbers and phones encrypted, their employers created."""

from collections.abc import Callable

from django.db import connection, transaction
from django.utils.translation import gettext as _

from layers import crypto
from layers.io.imports.place import lookup
from layers.io.imports.report import Report, import_audited
from layers.io.mapping import Mapping
from layers.io.specs import IMPORTS
from layers.models import ImportJob, Organization, Person, PersonCategory

CHUNK = 20_000
_POINT_SQL = "CASE WHEN s.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END"


def temp_columns(layer: str) -> list[tuple[str, str]]:
    """The staging table's columns (name, SQL type): the staged columns of the spec, the point, any WKB."""
    spec = IMPORTS[layer]
    columns = [(c.name, c.sql_type) for c in spec.columns if c.sql_type] + [("lon", "float8"), ("lat", "float8")]
    if spec.polygons:
        columns.append(("wkb", "bytea"))
    return columns


def upsert_sql(
    layer: str, *, has_location: bool, source: str = "_import_rows", writable: str | None = None
) -> tuple[str, str]:
    """UPDATE of the stored rows that `source` (the staged rows) matches, and INSERT of the others (existing
    ones skipped). `writable`: a condition on the stored row `t` that limits the UPDATE (see place.writable_sql)."""
    spec = IMPORTS[layer]
    table, key = spec.table, spec.match
    insert_columns, insert_exprs, sets = [], [], []
    for column, _type, insert, update in spec.columns:
        if column == spec.layer.geometry_field:
            expr = (
                f"CASE WHEN s.wkb IS NOT NULL THEN ST_SetSRID(ST_GeomFromWKB(s.wkb), 4326) ELSE {_POINT_SQL} END"
                if spec.polygons
                else _POINT_SQL
            )
            insert_columns.append(column)
            insert_exprs.append(expr)
            if has_location:
                sets.append(f"{column} = COALESCE({expr}, t.{column})")
            continue
        insert_columns.append(column)
        insert_exprs.append(insert)
        if update:
            # every update expression keeps the stored value where the file has none (NULL or empty)
            sets.append(f"{column} = {update}")
    sets.append("modified = now()")
    names = ", ".join(insert_columns)
    update_sql = f"UPDATE {table} t SET {', '.join(sets)} FROM {source} s WHERE t.{key} = s.{key}"
    if writable:
        # checked row by row before; here again, so that a row stored meanwhile out of reach is left alone
        update_sql += f" AND {writable}"
    insert_sql = (
        f"INSERT INTO {table} AS t ({names}, created, modified) "
        f"SELECT {', '.join(insert_exprs)}, now(), now() FROM {source} s "
        f"ON CONFLICT {spec.conflict} DO NOTHING"
    )  # the rows just updated, or written meanwhile
    return update_sql, insert_sql


def write(
    job: ImportJob,
    records: list[dict],
    mapping: Mapping,
    report: Report,
    progress: Callable[..., None],
    writable: tuple[str, list] | None,
) -> tuple[int, int]:
    """The records upserted in one transaction, chunk by chunk through a staging table: (created, updated)."""
    layer = job.layer
    staged_columns = temp_columns(layer)
    update_sql, insert_sql = upsert_sql(
        layer, has_location=any(r["lon"] is not None for r in records), writable=writable and writable[0]
    )
    update_params = writable[1] if writable else None
    created = updated = 0
    total = len(records) or 1
    with transaction.atomic(), connection.cursor() as cursor:
        # One import per layer at a time: two imports of the same people would otherwise race between
        # the UPDATE and the INSERT of a chunk. Other writers insert one row at a time and see the
        # unique constraints; such a row inserted meanwhile is skipped by ON CONFLICT and counted below.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"layers.import:{layer}"])
        if layer == "people":
            employers_created = _write_employers(cursor, records)
            if employers_created:
                report.add(
                    None, None, _("%(n)d organizations (employers) were created.") % {"n": employers_created}, "info"
                )
        cursor.execute(
            f"DROP TABLE IF EXISTS _import_rows; CREATE TEMP TABLE _import_rows "
            f"({', '.join(f'{c} {t}' for c, t in staged_columns)}) ON COMMIT DROP"
        )
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            # a list, built before COPY starts: the people rows need a query, which cannot run during COPY
            rows = _people_rows(cursor, chunk) if layer == "people" else _plain_rows(chunk, staged_columns)
            cursor.execute("TRUNCATE _import_rows")
            with cursor.cursor.copy(f"COPY _import_rows ({', '.join(c for c, _t in staged_columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            cursor.execute("ANALYZE _import_rows")
            cursor.execute(update_sql, update_params)
            updated += cursor.rowcount
            cursor.execute(insert_sql)
            created += cursor.rowcount
            done = start + len(chunk)
            progress(0.5 + 0.5 * done / total, done)
        if layer == "people":
            cursor.execute(
                f"UPDATE {Person._meta.db_table} t SET member_code = 'DY' || lpad(t.id::text, 10, '0') "
                "FROM _import_rows s WHERE t.id_card_hash = s.id_card_hash AND t.member_code = '' "
                "AND t.categories @> ARRAY[%s]::varchar[]" + (f" AND {writable[0]}" if writable else ""),
                [PersonCategory.PARTY_MEMBER, *(update_params or [])],
            )
        if layer == "organizations":
            _write_parents(cursor, records)
        skipped = len(records) - created - updated
        if skipped:
            report.add(
                None,
                None,
                _("%(n)d rows were written meanwhile by someone else and were left as they are.") % {"n": skipped},
                "warning",
            )
        import_audited(job=job, layer=layer, rows=len(records), created=created, updated=updated)
    return created, updated


def _plain_rows(records: list[dict], columns: list[tuple[str, str]]) -> list[list]:
    names = [c for c, _t in columns]
    return [[record.get(n) for n in names] for record in records]


def _people_rows(cursor, records: list[dict]) -> list[tuple]:
    """Rows for the people temp table: ID-card numbers encrypted only for new people, phones only when changed."""
    cursor.execute(
        f"SELECT id_card_hash, phone_hash FROM {Person._meta.db_table} WHERE id_card_hash = ANY(%s)",
        [[r["id_card_hash"] for r in records]],
    )
    existing = dict(cursor.fetchall())
    new_ids = [r for r in records if r["id_card_hash"] not in existing]
    for record, token in zip(new_ids, crypto.encrypt_many([r["id_card"] for r in new_ids]), strict=True):
        record["id_card_encrypted"] = token
    phones = [r for r in records if r.get("phone") and existing.get(r["id_card_hash"]) != r["phone_hash"]]
    for record, token in zip(phones, crypto.encrypt_many([r["phone"] for r in phones]), strict=True):
        record["phone_encrypted"] = token
    return [
        (
            r.get("name"),
            r.get("gender"),
            r.get("birth_date"),
            r["id_card_hash"],
            r.get("id_card_encrypted"),
            r["phone_hash"],
            r.get("phone_encrypted"),
            r.get("household_id"),
            r.get("grid_id"),
            r.get("categories"),
            r.get("platform"),
            r.get("work_kind"),
            r.get("employer_id"),
            r.get("branch_id"),
            r.get("mobile_member"),
            r["lon"],
            r["lat"],
        )
        for r in records
    ]


def _write_employers(cursor, records: list[dict]) -> int:
    """Employers named by the rows, created where missing; each record gets its `employer_id`."""
    wanted: dict[str, tuple[str, str]] = {}
    for record in records:
        code = record.get("employer_code")
        if code and (code not in wanted or not wanted[code][0]):
            wanted[code] = (record.get("employer_name") or "", record["employer_kind"])
    if not wanted:
        return 0
    codes = sorted(wanted)
    cursor.execute(
        f"INSERT INTO {Organization._meta.db_table} (code, name, kind, address, phone, created, modified) "
        "SELECT c, CASE WHEN n = '' THEN c ELSE n END, k, '', '', now(), now() "
        "FROM unnest(%s::text[], %s::text[], %s::text[]) AS w(c, n, k) ON CONFLICT (code) DO NOTHING",
        [codes, [wanted[c][0] for c in codes], [wanted[c][1] for c in codes]],
    )
    created = cursor.rowcount
    ids = lookup(cursor, f"SELECT code, id FROM {Organization._meta.db_table} WHERE code = ANY(%s)", set(codes))
    for record in records:
        code = record.get("employer_code")
        if code:
            record["employer_id"] = ids[code]
    return created


def _write_parents(cursor, records: list[dict]) -> None:
    pairs = [(r["code"], r["parent_code"]) for r in records if r.get("parent_code")]
    if pairs:
        table = Organization._meta.db_table
        cursor.execute(
            f"UPDATE {table} t SET parent_id = p.id FROM unnest(%s::text[], %s::text[]) AS w(c, pc) "
            f"JOIN {table} p ON p.code = w.pc WHERE t.code = w.c AND p.id <> t.id",
            [[c for c, _p in pairs], [p for _c, p in pairs]],
        )
