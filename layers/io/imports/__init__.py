"""Imports of department files into the register: validate every row first, then write all or nothing.

`import_run(job=…)` (job) reads the job's file (layers.io.readers), maps its columns (layers.io.mapping) onto
the layer's targets (layers.io.specs), validates each row (validate: types, ID-card check digit, coordinates
converted from the job's crs to WGS 84), places each row in a grid (place: by point, by grid's placement rule,
grid.selectors.territory, done for all rows in one query; else by household number or address) and checks the
grid is in the importer's scope. A dry run stops there and returns the report (report). A real run with any
error writes nothing; otherwise it upserts in one transaction (write): people matched by the search hash of
their ID-card number, the other layers by `code`; existing rows are updated (an empty cell keeps the stored
value), new ones created. Rows are matched only where the importer may write: stored rows in its scope (and,
without clearance, no person of a sensitive category); a key that matches any other stored row is refused with
one message (KEY_REFUSED) whatever the reason, and counted nowhere; sensitive categories need clearance. The
job's source file (plain ID-card numbers) is deleted when the job ends, however it ends. Rows go through COPY
into a temporary table, then one UPDATE … FROM and one INSERT … SELECT per chunk; no per-row queries.

Places, things and households from a file without geometries (CSV, .xlsx) take the staged path (staged,
staged_columns, staged_locate, staged_write), built for files of a million rows: the same checks, report,
counts and rows, but validated per column, placed in grids by one spatial join in SQL, stored rows updated by
one UPDATE and new ones COPY'd straight into the layer's table, under a lock that keeps other writers of that
layer out until the import commits (reads go on). People (encrypted fields, employers, branches) and
organizations (polygons, parents) keep the row-by-row path (rows).

Progress: while the write transaction is open its own updates are invisible to anybody polling the job,
so progress goes through a second, autocommit connection to the database (a plain psycopg connection
opened with the same settings), which updates only the job row; the main transaction never touches that
row until it has committed, so the two never wait on each other. When the caller already holds a
transaction (tests, or a caller's atomic block), the job row it created may not be visible to another
connection, so progress is then reported only to the `on_progress` callback.

The job's crs: "wgs84", "gcj02" or "bd09" name the coordinates' system explicitly; "" means "not given":
coordinate columns are then taken as WGS 84, a spatial file's own CRS is used, and a Shapefile without a
.prj is refused (its coordinates could be anything).
"""

from layers.io.imports.job import import_run, import_source_delete, import_sources_purge, max_bytes, may_import
from layers.io.imports.report import KEY_REFUSED

__all__ = ["KEY_REFUSED", "import_run", "import_source_delete", "import_sources_purge", "max_bytes", "may_import"]
