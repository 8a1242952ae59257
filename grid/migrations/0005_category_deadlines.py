"""Deadlines and duplicate radii for the default categories, and a first deadline for reports made before
the workflow existed (they await acceptance; the sweep routes them)."""

from django.db import migrations

# code: (minutes to accept, minutes to resolve, minutes red before escalation, duplicate radius in metres)
DEADLINES = {
    "city_appearance": (120, 2880, 240, 50),
    "litter": (120, 1440, 240, 30),
    "illegal_parking": (30, 240, 60, 30),
    "public_security": (30, 720, 60, 100),
    "fire_hazard": (15, 240, 30, 100),
    "neighbour_dispute": (240, 4320, 480, 20),
    "facility_damage": (240, 4320, 480, 50),
    "road_damage": (240, 10080, 720, 80),
    "street_light": (240, 2880, 480, 40),
    "gig_worker_appeal": (120, 2880, 240, 100),
    "flood_control": (10, 120, 20, 300),
}

FIRST_DEADLINES = """
UPDATE grid_incident i SET
    phase_started = i.created,
    yellow_at = i.created + make_interval(secs => c.accept_minutes * 60 * 0.75),
    deadline = i.created + make_interval(mins => c.accept_minutes)
FROM grid_category c
WHERE c.id = i.category_id AND i.status = 'reported' AND i.deadline IS NULL
"""


def add(apps, schema_editor):
    Category = apps.get_model("grid", "Category")
    for code, (accept, resolve, escalate, radius) in DEADLINES.items():
        Category.objects.filter(code=code).update(
            accept_minutes=accept, resolve_minutes=resolve, escalate_after_minutes=escalate, duplicate_radius_m=radius
        )
    schema_editor.execute(FIRST_DEADLINES)


class Migration(migrations.Migration):
    dependencies = [("grid", "0004_incident_workflow")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
