"""Trigram indexes so the customer search stays fast on PostgreSQL with many customers.

The search uses icontains (UPPER(col) LIKE UPPER('%term%')) on names and contains on
phones; only pg_trgm GIN indexes serve a LIKE with a leading wildcard. SQLite has no such
index and scans, which is fast enough at its scale.
"""

from django.db import migrations

INDEXES = {
    "crm_cust_trgm_first": "UPPER(first_name::text) gin_trgm_ops",
    "crm_cust_trgm_last": "UPPER(last_name::text) gin_trgm_ops",
    "crm_cust_trgm_doc": "UPPER(document_number::text) gin_trgm_ops",
    "crm_cust_trgm_email": "UPPER(email::text) gin_trgm_ops",
    "crm_cust_trgm_phone": "phone gin_trgm_ops",
    "crm_cust_trgm_phone2": "phone_secondary gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Case-sensitive prefix search on the document number (LIKE 'x%').
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS crm_cust_docnum_pattern ON crm_customer "
        "(document_number varchar_pattern_ops)"
    )
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON crm_customer USING gin ({expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*INDEXES, "crm_cust_docnum_pattern"]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_roles")]

    operations = [migrations.RunPython(create, drop)]
