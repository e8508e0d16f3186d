"""A generated document whose PDF conversion was cut off or lost still ends somewhere.

The conversion runs in a Celery task after the commit: a worker killed mid-conversion
loses it for good, a publish can fail, and two deliveries of the task can convert at once.
"""

import datetime

import pytest
import time_machine
from django.core.files.base import ContentFile

from crm.gestiones import tasks
from crm.gestiones.documents import services as document_services
from crm.gestiones.models import Attachment, FollowUp
from crm.models import Interaction
from lib import office
from tests.crm.gestiones.test_documents import (  # noqa: F401
    NOW,
    contract,
    gestion,
    loan,
    media,
    needs_libreoffice,
)

PDF = b"%PDF-1.7 converted"


@pytest.fixture
def lost(gestion, contract, asesor, django_capture_on_commit_callbacks) -> FollowUp:  # noqa: F811
    """A generated document whose PDF task never ran."""
    with django_capture_on_commit_callbacks(execute=False):
        return document_services.generate_document(
            gestion=gestion, template=contract, actor=asesor, now=NOW
        )


def pdfs(follow_up: FollowUp) -> list[str]:
    return list(follow_up.attachments.filter(name__endswith=".pdf").values_list("name", flat=True))


@needs_libreoffice
def test_the_sweep_converts_a_document_whose_pdf_task_was_lost(lost):
    with time_machine.travel(NOW + datetime.timedelta(minutes=15), tick=False):
        assert tasks.attach_missing_document_pdfs() == 1

    assert len(pdfs(lost)) == 1


def test_the_sweep_leaves_a_document_whose_conversion_may_still_be_running(lost):
    with time_machine.travel(NOW + datetime.timedelta(minutes=2), tick=False):
        assert tasks.attach_missing_document_pdfs() == 0


def test_a_document_whose_pdf_never_came_says_so_on_its_follow_up(lost):
    with time_machine.travel(NOW + datetime.timedelta(hours=2), tick=False):
        tasks.attach_missing_document_pdfs()
        tasks.attach_missing_document_pdfs()

    lost.refresh_from_db()
    assert lost.notes.count("PDF no generado: la conversión a PDF no terminó") == 1
    assert (
        Interaction.objects.filter(
            customer=lost.gestion.customer, summary__contains="PDF no generado"
        ).count()
        == 1
    )
    assert pdfs(lost) == []


def test_two_deliveries_converting_at_once_file_one_pdf(lost, monkeypatch):
    docx = lost.attachments.get(name__endswith=".docx")
    pdf_name = docx.name.replace(".docx", ".pdf")

    def convert_while_the_other_delivery_files_it(data: bytes) -> bytes:
        # LibreOffice's stand-in: the other delivery finishes while this one converts.
        other = Attachment(follow_up=lost, name=pdf_name)
        other.file.save(pdf_name, ContentFile(PDF), save=False)
        other.save()
        return PDF

    monkeypatch.setattr(office, "docx_to_pdf", convert_while_the_other_delivery_files_it)

    assert document_services.attach_pdf(attachment_id=docx.pk) is None
    assert pdfs(lost) == [pdf_name]
