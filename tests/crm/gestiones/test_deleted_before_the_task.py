"""Background work on rows deleted before it ran, or failing on one row: a task whose row is
gone ends quietly (no DoesNotExist for the error tracker), a PDF that could not be made is
said once however many times its task runs, and one bad loan of the life-cycle events does
not stop the others."""

import datetime

import pytest

from credits.services import contracts as contract_services
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.documents import services as document_services
from crm.gestiones.models import FollowUp, LifecycleRun
from crm.models import Interaction
from tests.crm.gestiones.test_documents import NOW, contract, gestion, loan  # noqa: F401
from tests.crm.gestiones.test_lifecycle import (  # noqa: F401
    disbursed_loan,
    product,
    service_call,
    thanks_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def without_pdf(gestion, contract, asesor, settings, django_capture_on_commit_callbacks):  # noqa: F811
    """A generated document whose PDF could not be made (LibreOffice missing)."""
    settings.LIBREOFFICE_BINARY = "/nonexistent/soffice"
    with django_capture_on_commit_callbacks(execute=True):
        follow_up = document_services.generate_document(
            gestion=gestion, template=contract, actor=asesor, now=NOW
        )
    return follow_up


def test_the_pdf_not_made_is_said_once_however_many_times_the_task_runs(without_pdf):
    docx = without_pdf.attachments.get()

    assert document_services.attach_pdf(attachment_id=docx.pk) is None
    assert document_services.attach_pdf(attachment_id=docx.pk) is None

    without_pdf.refresh_from_db()
    assert without_pdf.notes.count("PDF no generado") == 1
    assert (
        Interaction.objects.filter(
            customer=without_pdf.gestion.customer, summary__contains="PDF no generado"
        ).count()
        == 1
    )


def test_the_pdf_task_of_a_deleted_document_ends_quietly(without_pdf):
    docx = without_pdf.attachments.get()
    docx.delete()

    assert document_services.attach_pdf(attachment_id=docx.pk) is None


def test_the_pdf_missing_note_of_a_deleted_follow_up_ends_quietly(without_pdf):
    FollowUp.objects.filter(pk=without_pdf.pk).delete()

    document_services._note_pdf_missing(without_pdf, reason="se interrumpió")


def test_sending_a_deleted_contract_ends_quietly():
    assert contract_services.send_contract(contract_id=987654) is None


def test_one_failing_loan_does_not_stop_the_days_other_life_cycle_events(
    product,  # noqa: F811
    service_call,  # noqa: F811
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    first = disbursed_loan(product)
    second = disbursed_loan(product, email="ana@example.pe")
    thanks_event(product, service_call)
    real = campaign_services.run_event

    def run_event(**kwargs):
        if kwargs["loan"].pk == first.pk:
            raise RuntimeError("a template variable broke")
        return real(**kwargs)

    monkeypatch.setattr(campaign_services, "run_event", run_event)
    with django_capture_on_commit_callbacks(execute=True):
        counts = campaign_services.run_lifecycle_events(today=datetime.date(2026, 3, 5))

    assert (counts["runs"], counts["errors"]) == (1, 1)
    assert list(LifecycleRun.objects.values_list("loan_id", flat=True)) == [second.pk]
