"""Private files: unguessable names, and sent only by a view (Django, nginx or Apache)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import Http404

from lib import files


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _stored(name: str, content: bytes = b"%PDF-1.7 contenido") -> FieldFile:
    class _Owner:  # FieldFile needs an instance and a field; only .name and storage matter
        pass

    saved = default_storage.save(name, ContentFile(content))
    field = type("F", (), {"storage": default_storage, "name": "file"})()
    return FieldFile(_Owner(), field, saved)


def test_a_private_name_keeps_the_files_name_under_a_random_folder():
    first = files.private_name("gestiones/7", "Contrato firmado.pdf")
    second = files.private_name("gestiones/7", "Contrato firmado.pdf")

    folder, random_part, name = first.rsplit("/", 2)
    assert folder == "gestiones/7"
    assert name == "Contrato_firmado.pdf"
    assert len(random_part) >= 20
    assert first != second


@pytest.mark.parametrize(
    ("uploaded", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\recibo.jpg", "recibo.jpg"),
        ("", "archivo"),
        ("..", "archivo"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_a_private_name_cannot_leave_its_folder(uploaded, kept):
    name = files.private_name("recibos", uploaded)

    assert name.startswith("recibos/")
    assert name.count("/") == 2
    assert name.endswith(kept)


def test_a_file_missing_on_disk_is_a_404_not_a_server_error(settings):
    settings.PRIVATE_FILES_SERVER = ""
    file = _stored("recibos/abc/recibo.pdf")
    default_storage.delete(file.name)

    with pytest.raises(Http404, match="ya no está guardado"):
        files.serve(file)


def test_django_sends_the_file_itself_by_default(settings):
    settings.PRIVATE_FILES_SERVER = ""
    file = _stored("recibos/abc/recibo.pdf")

    response = files.serve(file)

    assert b"".join(response.streaming_content) == b"%PDF-1.7 contenido"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="recibo.pdf"'


def test_behind_nginx_the_sending_is_handed_over_with_x_accel_redirect(settings):
    settings.PRIVATE_FILES_SERVER = "nginx"
    settings.PRIVATE_FILES_INTERNAL_URL = "/private-files/"
    file = _stored("recibos/abc/recibo.pdf")

    response = files.serve(file, filename="Recibo de Rosa.pdf")

    assert response["X-Accel-Redirect"] == f"/private-files/{file.name}"
    assert response.content == b""
    assert "Recibo de Rosa.pdf" in response["Content-Disposition"]


def test_behind_apache_the_sending_is_handed_over_with_x_sendfile(settings, tmp_path):
    settings.PRIVATE_FILES_SERVER = "apache"
    file = _stored("recibos/abc/recibo.pdf")

    response = files.serve(file, as_attachment=False)

    assert response["X-Sendfile"] == str(tmp_path / file.name)
    assert response["Content-Disposition"].startswith("inline")
