"""Imports of the lender's book from files: customers here; apps above register more kinds.

A user uploads a file (.xlsx, .xls, .ods, .csv), maps its columns to our fields (the
choice is saved and offered next time), sees the first rows as they will be stored, and
queues the import; a Celery task runs it with a progress bar. Every row is validated
first: with a bad row nothing is written unless the user chose to skip bad rows, and the
bad rows come back with their line numbers and reasons, downloadable as .xlsx. Running the
same file again changes nothing; a batch can be undone while nothing has happened to its
records since.

- `registry`: what a kind of import is (`Importer`) and the kinds registered.
- `services`: the batch's life (upload, mapping, run, undo, identity conflicts).
- `customers`: the customer importer.
"""
