"""The migrated database holds every index and constraint the models declare.

A migration can lose one without a word: Django's AlterField(db_index=False) on a foreign
key drops every plain index on its column, and took the partial unique index that keeps a
customer to one active written-off campaign with it (recovery 0003 drops its two indexes by
name for that reason). The test database is built by the migrations, as production's is.
"""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db


def test_every_declared_index_and_constraint_is_in_the_migrated_database():
    missing = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if not model._meta.managed or model._meta.proxy:
                continue
            table = model._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            for declared in (*model._meta.constraints, *model._meta.indexes):
                if declared.name not in found:
                    missing.append(f"{table}: {declared.name}")
            indexed = {tuple(info["columns"]) for info in found.values() if info["index"]}
            for field in model._meta.local_fields:
                plain = field.db_index and not field.unique and not field.primary_key
                if plain and (field.column,) not in indexed:
                    missing.append(f"{table}: index on {field.column}")
    assert not missing, "\n".join(missing)
