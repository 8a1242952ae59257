from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION engagement_points_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER engagement_pointsentry_append_only BEFORE UPDATE OR DELETE ON engagement_pointsentry
    FOR EACH ROW EXECUTE FUNCTION engagement_points_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS engagement_pointsentry_append_only ON engagement_pointsentry;
DROP FUNCTION IF EXISTS engagement_points_append_only();
"""

RULES = [
    # code, name, points, cap per day, cap per month
    ("activity_checkin", "check-in at an activity", 2, 10, 0),
    ("activity_organized", "activity organized", 5, 0, 50),
    ("report_resolved", "a report that was resolved", 3, 15, 0),
    ("volunteer_hour", "each volunteer hour", 5, 40, 0),
    ("community_accepted", "community check-in accepted", 10, 0, 0),
    ("wish_fulfilled", "a small wish fulfilled", 5, 0, 0),
]


def seed_rules(apps, schema_editor):
    PointsRule = apps.get_model("engagement", "PointsRule")
    for code, name, amount, daily, monthly in RULES:
        PointsRule.objects.get_or_create(
            code=code, defaults={"name": name, "amount": amount, "daily_cap": daily, "monthly_cap": monthly}
        )


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_initial")]

    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP),
        migrations.RunPython(seed_rules, migrations.RunPython.noop),
    ]
