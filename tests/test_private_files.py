"""No URL serves MEDIA_ROOT: a stored file is reached only through a view that checks."""

import pytest
from django.urls import Resolver404, resolve

from crm.gestiones.models import attachment_upload_to, template_upload_to


@pytest.mark.parametrize(
    "path",
    ["/media/gestiones/1/contrato.docx", "/media/receipts/2026/12/recibo.pdf", "/media/"],
)
def test_no_url_maps_to_media_root(path):
    with pytest.raises(Resolver404):
        resolve(path)


def test_a_guessed_media_path_is_not_found_even_under_debug(admin_client, settings, tmp_path):
    # Through the `settings` fixture only: mixed with @override_settings, its teardown
    # would restore the decorator's DEBUG=True for the rest of the run.
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "gestiones" / "1").mkdir(parents=True)
    (tmp_path / "gestiones" / "1" / "contrato.docx").write_bytes(b"PK secreto")

    response = admin_client.get("/media/gestiones/1/contrato.docx")

    assert response.status_code == 404
    assert b"secreto" not in response.content


def test_gestion_files_and_templates_are_stored_under_random_folders():
    follow_up = type("FollowUp", (), {"gestion_id": 12})()
    attachment = type("Attachment", (), {"follow_up": follow_up})()

    first = attachment_upload_to(attachment, "contrato.docx")
    second = attachment_upload_to(attachment, "contrato.docx")
    template = template_upload_to(None, "pagare.docx")

    assert first.startswith("gestiones/12/") and first.endswith("/contrato.docx")
    assert first != second
    assert template.startswith("plantillas/") and template.count("/") == 2
