"""A gestión's attachments: the kinds of file the work needs, nothing that a browser runs."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.gestiones import services
from crm.gestiones.models import Attachment
from tests.crm.gestiones.conftest import step


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def record(gestion, actor, *files):
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    return services.record_follow_up(
        gestion=gestion, actor=actor, action=action, result=result, files=list(files)
    )


@pytest.mark.parametrize(
    "name",
    [
        "dni.pdf",
        "FOTO.JPG",
        "recibo.jpeg",
        "boleta.png",
        "captura.webp",
        "iphone.heic",
        "contrato.docx",
        "ingresos.xlsx",
        "carta.odt",
        "cuotas.ods",
        "nota.txt",
        "pagos.csv",
    ],
)
def test_the_kinds_of_file_a_gestion_needs_are_kept(make_gestion, asesor, name):
    gestion = make_gestion(actor=asesor)

    follow_up = record(gestion, asesor, ContentFile(b"contenido", name=name))

    assert follow_up.attachments.get().name == name


@pytest.mark.parametrize(
    "name", ["pagina.html", "logo.svg", "pagina.HTM", "programa.exe", "sin-extension", "x.pdf.js"]
)
def test_other_kinds_of_file_are_refused_and_nothing_is_recorded(make_gestion, asesor, name):
    gestion = make_gestion(actor=asesor)

    with pytest.raises(ValidationError) as error:
        record(gestion, asesor, ContentFile(b"<svg onload=alert(1)>", name=name))

    message = error.value.message_dict["files"][0]
    assert f"«{name}» no es un tipo de archivo aceptado" in message
    assert "PDF" in message and "DOCX" in message
    assert not Attachment.objects.exists()
    gestion.refresh_from_db()
    assert gestion.state.name == "Creado"


def test_the_follow_up_form_says_which_kinds_are_accepted(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {
            "action": action.pk,
            "result": result.pk,
            "files": [SimpleUploadedFile("x.svg", b"<svg/>", content_type="image/svg+xml")],
        },
    )

    assertContains(response, "«x.svg» no es un tipo de archivo aceptado")
    assertContains(response, "hojas de cálculo (XLSX, ODS)")
    assert not Attachment.objects.exists()
