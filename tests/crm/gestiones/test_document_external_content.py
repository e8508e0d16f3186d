"""A template that brings in something from outside the document (a picture linked by
address, a field that includes a file or URL) is refused: LibreOffice would fetch it from
the server while making the PDF, and the PDF would show what it got."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.gestiones.documents import rendering
from crm.gestiones.documents import services as document_services
from crm.gestiones.models import DocumentTemplate
from lib import office
from tests.crm.gestiones.test_documents import docx_with
from tests.lib.test_office_external_content import (
    REL,
    linked_picture,
    with_field,
    with_relationship,
)

CONTEXT = {"cliente": {"nombre_completo": "Rosa Huamán"}}


def upload_refusal(data: bytes, credit_type) -> str:
    with pytest.raises(ValidationError) as caught:
        document_services.create_template(
            name="Contrato",
            file=SimpleUploadedFile("contrato.docx", data),
            gestion_types=[credit_type],
        )
    return " ".join(caught.value.message_dict["file"])


def test_a_template_with_a_picture_linked_by_address_is_refused_at_upload(credit_type):
    message = upload_refusal(linked_picture("http://169.254.169.254/latest/"), credit_type)

    assert message == (
        "La plantilla enlaza una imagen externa (http://169.254.169.254/latest/): insértela "
        "en el documento en vez de enlazarla."
    )
    assert not DocumentTemplate.objects.exists()


def test_a_template_with_a_picture_linked_to_a_server_file_is_refused_at_upload(credit_type):
    message = upload_refusal(linked_picture("file:///etc/hostname"), credit_type)

    assert "imagen externa (file:///etc/hostname)" in message


def test_a_template_with_an_includepicture_field_is_refused_at_upload(credit_type):
    message = upload_refusal(with_field(' INCLUDEPICTURE "http://10.0.0.1/a.png" '), credit_type)

    assert message.startswith(
        "La plantilla tiene un campo que trae contenido de fuera del documento "
        '(INCLUDEPICTURE "http://10.0.0.1/a.png")'
    )


def test_a_template_with_a_linked_object_is_refused_naming_it(credit_type):
    data = with_relationship(docx_with("Hola"), REL + "oleObject", "http://10.0.0.1/o.bin")

    message = upload_refusal(data, credit_type)

    assert "enlaza un objeto (OLE) vinculado fuera del documento (http://10.0.0.1/o.bin)" in message


def test_a_template_stored_before_the_check_is_refused_when_filled():
    with pytest.raises(ValidationError, match="imagen externa"):
        rendering.render_document(linked_picture("http://10.0.0.1/a.png"), CONTEXT)


def test_a_field_written_through_a_placeholder_is_refused_when_filled():
    field = (
        '</w:t></w:r><w:r><w:fldChar w:fldCharType=\\"begin\\"/></w:r><w:r><w:instrText>'
        "INCLUDEPICTURE http://10.0.0.1/a.png</w:instrText></w:r><w:r><w:fldChar "
        'w:fldCharType=\\"end\\"/></w:r><w:r><w:t>'
    )

    # `safe` would write it into the XML unescaped: the sandbox has no such filter.
    with pytest.raises(ValidationError, match="«safe» no existe o no se permite"):
        rendering.render_document(docx_with('{{ "' + field + '"|safe }}'), CONTEXT)
    # Escaped, it is only text.
    filled = rendering.render_document(docx_with('{{ "' + field + '" }}'), CONTEXT)
    assert office.external_content(filled.docx) == []
