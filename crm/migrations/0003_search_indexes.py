"""A trigram index so the customer search stays fast on PostgreSQL with many customers.

The search is `search_text LIKE '%term%'` for each term; only a pg_trgm GIN index serves
a LIKE with a leading wildcard. SQLite has no such index and scans the column, which is
fast enough at its scale (`make bench` prints both).
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS crm_cust_search_trgm ON crm_customer "
        "USING gin (search_text gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS crm_cust_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_roles")]

    operations = [migrations.RunPython(create, drop)]
