"""Writes of the loan ledger, one module per topic: every change to what is owed or paid.

Each service runs in one transaction, locks the loan it changes (`ledger.locked`), writes
the append-only `LedgerEntry` rows that explain the change, and records it on the
customer's timeline. Import the topic's module: `from credits.services import payments`.
"""
