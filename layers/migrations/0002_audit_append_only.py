"""The audit log is append-only in the database itself: no UPDATE or DELETE of a row gets through,
whatever the application attempts. (TRUNCATE is left to the table's owner: test runs empty every
table with it between transactional tests.)"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION layers_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER layers_auditentry_append_only BEFORE UPDATE OR DELETE ON layers_auditentry
    FOR EACH ROW EXECUTE FUNCTION layers_audit_append_only();
"""
BACKWARD = """
DROP TRIGGER layers_auditentry_append_only ON layers_auditentry;
DROP FUNCTION layers_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("layers", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
