from django.db import migrations

# The placement rule, for every caller in SQL and the ORM: among the grids whose boundary covers a point
# (two do on a shared edge), the one with the lowest code. STABLE lets PostgreSQL call it once for a
# constant argument and use the result in an index scan; the GIST index on the boundary finds the candidates.
_CREATE = """
CREATE OR REPLACE FUNCTION grid_containing(point geometry) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id FROM {table} WHERE ST_Covers(boundary, point) ORDER BY code LIMIT 1
$$
"""


def create(apps, schema_editor):
    table = schema_editor.quote_name(apps.get_model("grid", "Grid")._meta.db_table)
    schema_editor.execute(_CREATE.format(table=table))


def drop(apps, schema_editor):
    schema_editor.execute("DROP FUNCTION IF EXISTS grid_containing(geometry)")


class Migration(migrations.Migration):
    dependencies = [("grid", "0007_incident_modified_index")]

    operations = [migrations.RunPython(create, drop)]
