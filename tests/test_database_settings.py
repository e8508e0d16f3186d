"""The database connection's own settings."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit():
    """JIT compiled the effectiveness report's queries for 0.8 s of its 3.1 s (bench data)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
