"""Each audit entry names the area it is about, so that auditors read their own areas' entries.

Existing entries are placed as new ones are: an unmasked read of a person at the person's community, anything else
at the area its actor is responsible for (when that is one area, or grids of one community). The append-only trigger
is held off for this one UPDATE and put back in the same transaction.
"""

import django.db.models.deletion
from django.db import migrations, models

# Foreign keys are checked at once rather than at commit: ALTER TABLE refuses a table with checks still queued.
PLACE_EXISTING = """
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE layers_auditentry DISABLE TRIGGER layers_auditentry_append_only;
UPDATE layers_auditentry e SET area_id = g.community_id
    FROM layers_person p JOIN grid_grid g ON g.id = p.grid_id
    WHERE e.area_id IS NULL AND e.target = 'layers.person:' || p.id;
UPDATE layers_auditentry e SET area_id = a.area_id
    FROM (SELECT user_id, min(adminarea_id) AS area_id FROM grid_user_areas
          GROUP BY user_id HAVING count(*) = 1) a
    WHERE e.area_id IS NULL AND e.actor_id = a.user_id;
UPDATE layers_auditentry e SET area_id = w.area_id
    FROM (SELECT gw.user_id, min(g.community_id) AS area_id FROM grid_grid_workers gw
          JOIN grid_grid g ON g.id = gw.grid_id GROUP BY gw.user_id HAVING count(DISTINCT g.community_id) = 1) w
    WHERE e.area_id IS NULL AND e.actor_id = w.user_id;
ALTER TABLE layers_auditentry ENABLE TRIGGER layers_auditentry_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("grid", "0001_initial"),
        ("layers", "0004_job_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="area",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="grid.adminarea",
                verbose_name="area",
            ),
        ),
        migrations.RunSQL(PLACE_EXISTING, migrations.RunSQL.noop),
    ]
