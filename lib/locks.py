"""Locks on a name rather than a row: for a value that two transactions must not both
check and then write, when no single row stands for it (a gateway's operation number,
recorded on whatever loan the cashier picks)."""

from django.db import connection


def hold(name: str) -> None:
    """Wait for, then hold until the transaction ends, the lock on `name`.

    PostgreSQL: a transaction-level advisory lock on the name's 64-bit hash (two names
    that share a hash only wait for each other). SQLite runs one write transaction at a
    time, which already keeps such checks apart: nothing to take there.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])
