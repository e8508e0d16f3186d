"""A customer file with a row for the kept record and one for a record merged into it
(crm.merge): both would reach the kept record, so the merged document's row is refused as
the same customer twice, like a document repeated in the file, in one chunk or two."""

import pytest

from crm import merge
from crm.imports import customers as customer_imports
from crm.imports import services
from crm.models import Customer, ImportBatch, ImportRecord, Interaction
from tests.crm.test_imports import run, xlsx
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

KEPT_DOCUMENT, MERGED_DOCUMENT, OTHER_MERGED = "45678912", "41234567", "40000001"
HEADER = ["Documento", "Nombres", "Ciudad"]


@pytest.fixture
def keep(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number=KEPT_DOCUMENT, city="Lima"
    )


def merged_into(keep, supervisor, document: str) -> Customer:
    """A record of the same person with another document, merged into `keep`, which keeps
    its own document and values."""
    drop = CustomerFactory(first_name="Rosa", last_name="Huamán", document_number=document, city="")
    merge.merge_customers(keep=keep, drop=drop, choices={}, actor=supervisor)
    drop.refresh_from_db()
    assert (drop.merged_into_id, drop.document_number) == (keep.pk, document)
    return drop


@pytest.fixture
def drop(keep, supervisor):
    return merged_into(keep, supervisor, MERGED_DOCUMENT)


def refusal(document: str, keep: Customer, line: int) -> str:
    return (
        f"El documento DNI {document} es de un registro fusionado con el cliente "
        f"n.º {keep.pk}: ya lo trae la línea {line}."
    )


def city(customer: Customer) -> str:
    return Customer.objects.get(pk=customer.pk).city


def import_entries(customer: Customer) -> int:
    return Interaction.objects.filter(
        customer=customer, summary__startswith="Datos actualizados por la importación"
    ).count()


def test_the_merged_documents_row_is_refused_and_the_file_writes_nothing(keep, drop, supervisor):
    rows = [HEADER, [KEPT_DOCUMENT, "Rosa", "Cusco"], [MERGED_DOCUMENT, "Rosa", "Arequipa"]]

    batch = run(xlsx(rows), supervisor)

    assert (batch.status, batch.is_applied) == (ImportBatch.Status.DONE, False)
    assert batch.error_preview == [[3, refusal(MERGED_DOCUMENT, keep, 2)]]
    assert (city(keep), city(drop)) == ("Lima", "")
    assert not ImportRecord.objects.filter(batch=batch).exists()


def test_skipping_bad_rows_updates_the_kept_record_once_from_its_own_row(keep, drop, supervisor):
    rows = [HEADER, [MERGED_DOCUMENT, "Rosa", "Arequipa"], [KEPT_DOCUMENT, "Rosa", "Cusco"]]

    batch = run(xlsx(rows), supervisor, skip_invalid=True)

    assert (batch.is_applied, batch.updated_count, batch.skipped_count) == (True, 1, 1)
    # The kept record's own document speaks for it, whichever row comes first.
    assert batch.error_preview == [[2, refusal(MERGED_DOCUMENT, keep, 3)]]
    assert (city(keep), city(drop)) == ("Cusco", "")
    assert import_entries(keep) == 1
    assert list(ImportRecord.objects.filter(batch=batch).values_list("line", "object_id")) == [
        (3, keep.pk)
    ]


def test_the_import_can_be_undone_and_the_kept_record_gets_its_values_back(keep, drop, supervisor):
    rows = [HEADER, [KEPT_DOCUMENT, "Rosa", "Cusco"], [MERGED_DOCUMENT, "Rosa", "Arequipa"]]
    batch = run(xlsx(rows), supervisor, skip_invalid=True)

    assert services.undo_blockers(batch) == []
    services.undo_import(batch=batch, actor=supervisor)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE
    assert (city(keep), city(drop)) == ("Lima", "")


def test_rows_in_different_chunks_are_refused_too_and_the_import_can_be_undone(
    keep, drop, supervisor, monkeypatch
):
    monkeypatch.setattr(customer_imports, "BATCH_SIZE", 2)
    rows = [
        HEADER,
        [KEPT_DOCUMENT, "Rosa", "Cusco"],
        ["41111111", "Ana", "Tacna"],
        [MERGED_DOCUMENT, "Rosa", "Arequipa"],
    ]

    batch = run(xlsx(rows), supervisor, skip_invalid=True)

    assert (batch.created_count, batch.updated_count, batch.skipped_count) == (1, 1, 1)
    assert batch.error_preview == [[4, refusal(MERGED_DOCUMENT, keep, 2)]]
    assert city(keep) == "Cusco"
    assert import_entries(keep) == 1
    assert services.undo_blockers(batch) == []
    services.undo_import(batch=batch, actor=supervisor)
    assert city(keep) == "Lima"


def test_two_merged_documents_of_one_customer_keep_the_first_row(keep, drop, supervisor):
    merged_into(keep, supervisor, OTHER_MERGED)
    rows = [HEADER, [OTHER_MERGED, "Rosa", "Cusco"], [MERGED_DOCUMENT, "Rosa", "Arequipa"]]

    batch = run(xlsx(rows), supervisor, skip_invalid=True)

    assert batch.error_preview == [[3, refusal(MERGED_DOCUMENT, keep, 2)]]
    assert (batch.updated_count, city(keep)) == (1, "Cusco")
