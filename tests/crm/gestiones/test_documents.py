"""Documents from templates: the context, rendering, the PDF copy, the services and screens."""

import datetime
import io
import os
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from docx import Document
from pypdf import PdfReader
from pytest_django.asserts import assertContains

from credits.models import Loan
from crm.gestiones.documents import context as document_context
from crm.gestiones.documents import rendering as document_rendering
from crm.gestiones.documents import selectors as document_selectors
from crm.gestiones.documents import services as document_services
from crm.gestiones.models import Attachment, DocumentTemplate, FollowUp
from crm.models import Interaction
from lib import office
from tests.factories import CustomerFactory, LoanFactory, UserFactory

# LibreOffice is installed by .ci/run: in CI its absence fails these tests.
needs_libreoffice = pytest.mark.skipif(
    office.converter() is None and os.environ.get("CI", "").lower() != "true",
    reason="LibreOffice is not installed on this machine (Debian: libreoffice-writer-nogui)",
)

TODAY = datetime.date(2026, 11, 21)
NOW = datetime.datetime(2026, 11, 21, 15, 0, tzinfo=datetime.UTC)
CONTRACT = (
    "Yo, {{ cliente.nombre_completo }}, con {{ cliente.tipo_documento }} {{ cliente.documento }}, "
    "recibo {{ credito.moneda }} {{ credito.capital }} ({{ credito.capital_letras }}) "
    "del crédito {{ credito.codigo }}.",
    "Solicitado: {{ gestion.monto_solicitado_letras }}. Destino: {{ gestion.datos.destino }}.",
    "Lima, {{ fecha.hoy }}.",
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def docx_with(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    document = Document()
    document.add_heading("Contrato de prueba", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for values, row in zip(table, grid.rows, strict=True):
            for value, cell in zip(values, row.cells, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def pdf_text(data: bytes) -> str:
    """Return the text of a PDF, page after page."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def upload(data: bytes, name: str = "contrato.docx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def stored_template(name: str, data: bytes, gestion_type, **fields) -> DocumentTemplate:
    """Store a template without the service's checks (as an old or admin-loaded one could be)."""
    template = DocumentTemplate(name=name, **fields)
    template.file.save("plantilla.docx", ContentFile(data), save=False)
    template.save()
    template.gestion_types.set([gestion_type])
    return template


@pytest.fixture
def loan(customer):
    return LoanFactory(customer=customer, principal=Decimal("10000.00"), payment_code="L000000777")


@pytest.fixture
def gestion(make_gestion, asesor, loan):
    return make_gestion(agent=asesor, loans=[loan], amount_requested=Decimal("1234.50"))


@pytest.fixture
def contract(credit_type):
    return document_services.create_template(
        name="Contrato de mutuo", file=upload(docx_with(*CONTRACT)), gestion_types=[credit_type]
    )


# --- The context -----------------------------------------------------------------------------


def test_the_installment_in_a_document_is_the_scheduled_one_without_late_interest(gestion, loan):
    from credits.models import Installment

    Installment.objects.create(
        loan=loan,
        number=1,
        due_date=datetime.date(2026, 10, 1),
        principal_due=Decimal("3000.00"),
        interest_due=Decimal("150.00"),
        fee_due=Decimal("18.89"),
        late_interest_due=Decimal("8.45"),  # charged since: not the installment's amount
    )

    context = document_context.context_for(gestion, today=TODAY)

    assert context["credito"]["cuota"] == "3,168.89"


def test_the_context_fills_every_documented_placeholder(gestion):
    context = document_context.context_for(gestion, today=TODAY)

    names = {f"{group}.{key}" for group, values in context.items() for key in values}
    assert names == set(document_context.placeholders())
    assert context["cliente"]["nombre_completo"] == "Rosa Huamán Torres"
    assert context["gestion"]["monto_solicitado"] == "1,234.50"
    assert context["gestion"]["datos"]["ingreso_mensual"] == "3,500.00"
    assert context["gestion"]["datos"]["no_existe"] == ""
    assert context["credito"]["codigo"] == "L000000777"
    assert context["credito"]["capital_letras"] == "diez mil con 00/100 soles"
    assert context["credito"]["cuota"]
    assert context["fecha"] == {
        "dia": "21",
        "dia_letras": "veintiuno",
        "mes": "11",
        "mes_letras": "noviembre",
        "anio": "2026",
        "anio_letras": "dos mil veintiséis",
        "hoy": "21 de noviembre de 2026",
    }
    assert context["empresa"]["nombre"] == "Cartera"


def test_without_a_linked_loan_the_context_uses_the_customers_latest_live_loan(
    make_gestion, customer
):
    LoanFactory(customer=customer, status=Loan.Status.ACTIVE, payment_code="L000000001")
    LoanFactory(customer=customer, status=Loan.Status.CANCELLED, payment_code="L000000002")
    LoanFactory(status=Loan.Status.ACTIVE, payment_code="L000000003")

    context = document_context.context_for(make_gestion())

    assert context["credito"]["codigo"] == "L000000001"


def test_without_any_loan_the_credit_placeholders_are_empty(make_gestion):
    context = document_context.context_for(make_gestion())

    assert set(context["credito"].values()) == {""}


# --- Generating ------------------------------------------------------------------------------


@needs_libreoffice
def test_it_generates_the_docx_and_then_its_pdf_as_a_document_follow_up(
    gestion, contract, asesor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        follow_up = document_services.generate_document(
            gestion=gestion, template=contract, actor=asesor, now=NOW
        )

    assert follow_up.kind == FollowUp.Kind.DOCUMENT
    assert follow_up.notes == "Documento generado: Contrato de mutuo"
    docx, pdf = follow_up.attachments.order_by("name")
    assert docx.name == f"contrato-de-mutuo-gestion-{gestion.pk}.docx"
    assert pdf.name == f"contrato-de-mutuo-gestion-{gestion.pk}.pdf"
    text = docx_text(docx.file.read())
    assert "Rosa Huamán Torres, con DNI 45678912" in text
    assert "S/ 10,000.00 (diez mil con 00/100 soles) del crédito L000000777" in text
    assert "Solicitado: mil doscientos treinta y cuatro con 50/100 soles." in text
    assert "Destino: Consumo." in text
    assert "Lima, 21 de noviembre de 2026." in text
    pdf_bytes = pdf.file.read()
    assert pdf_bytes.startswith(b"%PDF")
    assert "Rosa Huamán Torres" in pdf_text(pdf_bytes)
    assert "S/ 10,000.00" in pdf_text(pdf_bytes)
    assert Interaction.objects.filter(
        customer=gestion.customer, summary__contains="Documento generado: Contrato de mutuo"
    ).exists()


def test_it_refuses_a_template_for_another_gestion_type(gestion, service_type, asesor):
    template = document_services.create_template(
        name="Acta de servicio", file=upload(docx_with("Hola")), gestion_types=[service_type]
    )

    with pytest.raises(ValidationError, match="no es para gestiones de tipo"):
        document_services.generate_document(gestion=gestion, template=template, actor=asesor)
    assert not FollowUp.objects.filter(gestion=gestion, kind=FollowUp.Kind.DOCUMENT).exists()


def test_it_refuses_a_role_the_template_does_not_list(gestion, credit_type, asesor):
    template = document_services.create_template(
        name="Carta de cobranza",
        file=upload(docx_with("Hola {{ cliente.nombres }}")),
        gestion_types=[credit_type],
        roles=[Group.objects.get(name="Cobranzas")],
    )

    with pytest.raises(ValidationError, match="Su rol no puede generar"):
        document_services.generate_document(gestion=gestion, template=template, actor=asesor)
    boss = UserFactory(username="root", is_superuser=True)
    assert document_services.generate_document(gestion=gestion, template=template, actor=boss)


def test_it_refuses_an_inactive_template(gestion, contract, asesor):
    contract.is_active = False
    contract.save()

    with pytest.raises(ValidationError, match="está inactiva"):
        document_services.generate_document(gestion=gestion, template=contract, actor=asesor)


def test_a_template_whose_file_is_gone_is_refused_saying_so(client, gestion, contract, asesor):
    contract.file.storage.delete(contract.file.name)
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:document_generate", args=[gestion.pk, contract.pk]), follow=True
    )

    assert response.status_code == 200
    assertContains(response, "ya no está guardado en el servidor: vuelva a subirlo")
    assert not gestion.follow_ups.filter(kind="document").exists()


def test_an_unknown_placeholder_stops_the_generation_and_stores_nothing(
    gestion, credit_type, asesor
):
    template = stored_template(
        "Vieja", docx_with("Hola {{ cliente.apodo }} de {{ ciudad }}"), credit_type
    )
    interactions = Interaction.objects.count()

    with pytest.raises(ValidationError) as error:
        document_services.generate_document(gestion=gestion, template=template, actor=asesor)

    assert "marcadores que no existen: ciudad, cliente.apodo" in str(error.value)
    assert not FollowUp.objects.filter(gestion=gestion, kind=FollowUp.Kind.DOCUMENT).exists()
    assert not Attachment.objects.exists()
    assert Interaction.objects.count() == interactions


def test_values_with_xml_characters_render_as_text(gestion, contract, asesor):
    gestion.customer.first_name = "Ana & <Luz>"
    gestion.customer.save()

    follow_up = document_services.generate_document(
        gestion=gestion, template=contract, actor=asesor
    )

    docx = follow_up.attachments.get(name__endswith=".docx")
    assert "Ana & <Luz> Huamán Torres" in docx_text(docx.file.read())


@needs_libreoffice
def test_the_pdf_keeps_tables_and_symbols_the_old_layout_dropped():
    data = docx_with(
        "“Comillas” — guion … y ≈ 1 234,50 €",
        table=[["Código", "Monto"], ["L1", "1,234.50"]],
    )

    text = pdf_text(office.docx_to_pdf(data))

    assert "“Comillas” — guion … y ≈ 1 234,50 €" in text
    assert "Código" in text and "1,234.50" in text


# --- Managing templates ---------------------------------------------------------------------


def test_a_template_with_unknown_placeholders_is_refused_listing_them(credit_type):
    with pytest.raises(ValidationError) as error:
        document_services.create_template(
            name="Mal",
            file=upload(docx_with("{{ cliente.nombre }} {{ gestion.datos.color }} {{ foo }}")),
            gestion_types=[credit_type],
        )

    assert error.value.message_dict["file"] == [
        "La plantilla usa marcadores que no existen: cliente.nombre, foo, gestion.datos.color. "
        "Consulte la lista de marcadores disponibles."
    ]
    assert not DocumentTemplate.objects.exists()


def test_a_template_with_a_syntax_error_is_refused_with_its_paragraph(credit_type):
    with pytest.raises(ValidationError) as error:
        document_services.create_template(
            name="Mal",
            file=upload(docx_with("Bien", "Hola {{ cliente.nombres ")),
            gestion_types=[credit_type],
        )

    message = error.value.message_dict["file"][0]
    assert "error de sintaxis" in message
    assert "«Hola {{ cliente.nombres»" in message


def test_an_unclosed_if_is_explained(credit_type):
    with pytest.raises(ValidationError, match="falta cerrar el bloque «if» con «endif»"):
        document_services.create_template(
            name="Mal",
            file=upload(docx_with("{% if credito.codigo %}Con crédito")),
            gestion_types=[credit_type],
        )


def test_a_template_must_be_a_docx_for_some_gestion_type(db):
    with pytest.raises(ValidationError) as error:
        document_services.create_template(
            name="Mal", file=upload(b"not a zip", "carta.docx"), gestion_types=[]
        )

    assert set(error.value.message_dict) == {"file", "gestion_types"}
    assert "no es un documento Word" in error.value.message_dict["file"][0]


def test_updating_keeps_the_file_but_checks_it_against_the_new_types(
    contract, credit_type, service_type
):
    with pytest.raises(ValidationError, match=r"gestion\.datos\.destino"):
        document_services.update_template(
            template=contract, name=contract.name, gestion_types=[service_type], roles=[]
        )

    document_services.update_template(
        template=contract,
        name="Contrato de mutuo v2",
        gestion_types=[credit_type],
        roles=[],
        is_active=False,
    )
    contract.refresh_from_db()
    assert contract.name == "Contrato de mutuo v2"
    assert not contract.is_active


def test_the_sample_template_is_valid_and_renders(gestion, asesor):
    sample = document_rendering.sample_template()
    document_rendering.check_template(sample)

    docx = document_rendering.render_docx(sample, document_context.context_for(gestion))

    assert "Rosa Huamán Torres" in docx_text(docx)


def test_templates_for_lists_the_active_ones_of_the_type_the_users_role_may_use(
    gestion, credit_type, service_type, asesor, cobranzas, outsider
):
    def make(name, types, roles=(), is_active=True):
        return document_services.create_template(
            name=name,
            file=upload(docx_with("x")),
            gestion_types=types,
            roles=[Group.objects.get(name=r) for r in roles],
            is_active=is_active,
        )

    anyone = make("A cualquiera", [credit_type])
    advisors = make("B asesores", [credit_type], roles=["Asesor", "Supervisor"])
    make("C cobranzas", [credit_type], roles=["Cobranzas"])
    make("D inactiva", [credit_type], is_active=False)
    make("E servicio", [service_type])

    assert document_selectors.templates_for(asesor, gestion) == [anyone, advisors]
    assert [t.name for t in document_selectors.templates_for(cobranzas, gestion)] == [
        "A cualquiera",
        "C cobranzas",
    ]
    assert document_selectors.templates_for(outsider, gestion) == []


# --- Screens ---------------------------------------------------------------------------------


def test_the_supervisor_sees_and_filters_the_template_list(
    client, supervisor, contract, service_type, django_assert_max_num_queries
):
    document_services.create_template(
        name="Acta de servicio",
        file=upload(docx_with("x")),
        gestion_types=[service_type],
        is_active=False,
    )
    client.force_login(supervisor)
    url = reverse("gestiones:document_template_list")

    with django_assert_max_num_queries(13):
        response = client.get(url)
    filtered = client.get(url, {"active": "1", "q": "mutuo"}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert [t.name for t in response.context["page"]] == ["Acta de servicio", "Contrato de mutuo"]
    assert [t.name for t in filtered.context["page"]] == ["Contrato de mutuo"]
    assert "gestiones/partials/document_template_results.html" in [
        t.name for t in filtered.templates
    ]
    assert "gestiones/document_template_list.html" not in [t.name for t in filtered.templates]


def test_a_filter_that_does_not_parse_is_left_out_and_said(client, supervisor, contract):
    client.force_login(supervisor)
    url = reverse("gestiones:document_template_list")

    # A type deleted since the link was saved; the search still applies.
    response = client.get(url, {"gestion_type": "999999", "q": "mutuo"})

    assert [t.name for t in response.context["page"]] == ["Contrato de mutuo"]
    assertContains(response, "Tipo de gestión: valor no válido, no se aplicó este filtro.")


def test_the_form_shows_the_placeholders_and_the_sample_link(client, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:document_template_create"))

    content = response.content.decode()
    assert response.status_code == 200
    assert "{{ cliente.nombre_completo }}" in content
    assert "{{ fecha.dia_letras }}" in content
    assert reverse("gestiones:document_template_sample") in content


def test_the_sample_download_is_a_docx(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("gestiones:document_template_sample"))

    assert response.status_code == 200
    assert "plantilla-ejemplo.docx" in response["Content-Disposition"]
    document_rendering.check_template(response.content)


def test_the_supervisor_uploads_a_template(client, supervisor, credit_type):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:document_template_create"),
        {
            "name": "Pagaré notarial",
            "description": "Pagaré del crédito",
            "file": upload(docx_with(*CONTRACT)),
            "gestion_types": [credit_type.pk],
            "roles": [Group.objects.get(name="Asesor").pk],
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    template = DocumentTemplate.objects.get(name="Pagaré notarial")
    assert list(template.roles.values_list("name", flat=True)) == ["Asesor"]
    assert template.is_active


def test_an_upload_with_unknown_placeholders_shows_them_on_the_form(
    client, supervisor, credit_type
):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:document_template_create"),
        {
            "name": "Mala",
            "file": upload(docx_with("{{ cliente.apodo }}")),
            "gestion_types": [credit_type.pk],
        },
    )

    assert response.status_code == 200
    assert "cliente.apodo" in response.context["form"].errors["file"][0]
    assert not DocumentTemplate.objects.exists()


def test_the_supervisor_edits_a_template_keeping_its_file(
    client, supervisor, contract, credit_type
):
    client.force_login(supervisor)
    url = reverse("gestiones:document_template_update", args=[contract.pk])

    page = client.get(url)
    response = client.post(
        url, {"name": "Contrato nuevo", "gestion_types": [credit_type.pk], "is_active": ""}
    )

    assert page.status_code == 200
    assert response.status_code == 302
    contract.refresh_from_db()
    assert (contract.name, contract.is_active) == ("Contrato nuevo", False)
    assert contract.file


def test_an_asesor_sees_the_list_but_cannot_create_or_edit_templates(client, asesor, contract):
    client.force_login(asesor)

    assert client.get(reverse("gestiones:document_template_list")).status_code == 200
    assert client.get(reverse("gestiones:document_template_create")).status_code == 403
    edit = reverse("gestiones:document_template_update", args=[contract.pk])
    assert client.get(edit).status_code == 403


def test_generating_from_the_gestion_page_redirects_back_with_a_message(
    client, asesor, gestion, contract
):
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:document_generate", args=[gestion.pk, contract.pk]), follow=False
    )

    assert response.status_code == 302
    assert response.url == f"/gestiones/{gestion.pk}/"
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.DOCUMENT).count() == 1
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        f"Documento «Contrato de mutuo» generado: contrato-de-mutuo-gestion-{gestion.pk}.docx. "
        "Su PDF quedó en cola: aparecerá en el seguimiento al generarse."
    ]


def test_a_refused_generation_comes_back_as_an_error_message(client, asesor, gestion, contract):
    contract.is_active = False
    contract.save()
    client.force_login(asesor)

    response = client.post(reverse("gestiones:document_generate", args=[gestion.pk, contract.pk]))

    assert response.status_code == 302
    assert not gestion.follow_ups.filter(kind=FollowUp.Kind.DOCUMENT).exists()
    assert "está inactiva" in str(next(iter(response.wsgi_request._messages)))


def test_nobody_generates_on_a_gestion_they_cannot_see(
    client, asesor2, outsider, gestion, contract
):
    url = reverse("gestiones:document_generate", args=[gestion.pk, contract.pk])

    client.force_login(asesor2)
    assert client.post(url).status_code == 404
    client.force_login(outsider)
    assert client.post(url).status_code == 403
    assert not gestion.follow_ups.filter(kind=FollowUp.Kind.DOCUMENT).exists()


def test_the_generate_partial_lists_the_templates_with_their_buttons(rf, asesor, gestion, contract):
    from django.template.loader import render_to_string

    request = rf.get("/")
    request.user = asesor

    html = render_to_string(
        "gestiones/partials/document_generate.html",
        {
            "gestion": gestion,
            "document_templates": document_selectors.templates_for(asesor, gestion),
        },
        request=request,
    )

    assert "Contrato de mutuo" in html
    assert reverse("gestiones:document_generate", args=[gestion.pk, contract.pk]) in html


def test_attachments_download_only_for_who_may_see_the_gestion(
    client, asesor, asesor2, supervisor, outsider, gestion, contract
):
    follow_up = document_services.generate_document(
        gestion=gestion, template=contract, actor=asesor
    )
    docx = follow_up.attachments.get(name__endswith=".docx")
    url = reverse("gestiones:attachment_download", args=[docx.pk])

    client.force_login(supervisor)
    response = client.get(url)
    assert response.status_code == 200
    assert f'filename="{docx.name}"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"PK")
    for user in (asesor2, outsider):
        client.force_login(user)
        assert client.get(url).status_code == 404


def test_a_customer_from_elsewhere_is_not_mixed_in(make_gestion, asesor, contract, loan):
    someone = CustomerFactory(first_name="Otro")
    other = make_gestion(
        customer=someone,
        agent=asesor,
        loans=[LoanFactory(customer=someone)],
        amount_requested=Decimal("500.00"),
    )

    follow_up = document_services.generate_document(gestion=other, template=contract, actor=asesor)

    text = docx_text(follow_up.attachments.get(name__endswith=".docx").file.read())
    assert "Otro" in text and "Rosa" not in text


def test_without_libreoffice_the_docx_stays_and_the_follow_up_says_why_there_is_no_pdf(
    gestion, contract, asesor, settings, django_capture_on_commit_callbacks
):
    settings.LIBREOFFICE_BINARY = "/nonexistent/soffice"

    with django_capture_on_commit_callbacks(execute=True):
        follow_up = document_services.generate_document(
            gestion=gestion, template=contract, actor=asesor, now=NOW
        )

    follow_up.refresh_from_db()
    assert [a.name for a in follow_up.attachments.all()] == [
        f"contrato-de-mutuo-gestion-{gestion.pk}.docx"
    ]
    assert "PDF no generado: LibreOffice no está instalado" in follow_up.notes
    assert Interaction.objects.filter(
        customer=gestion.customer, summary__contains="PDF no generado"
    ).exists()


@needs_libreoffice
def test_the_pdf_is_filed_once_however_many_times_the_task_runs(
    gestion, contract, asesor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        follow_up = document_services.generate_document(
            gestion=gestion, template=contract, actor=asesor, now=NOW
        )
    docx = follow_up.attachments.get(name__endswith=".docx")

    assert document_services.attach_pdf(attachment_id=docx.pk) is None
    assert follow_up.attachments.filter(name__endswith=".pdf").count() == 1


def test_the_admin_links_files_through_the_checking_views_never_to_media(
    admin_client, asesor, gestion, contract
):
    follow_up = document_services.generate_document(
        gestion=gestion, template=contract, actor=asesor
    )
    docx = follow_up.attachments.get(name__endswith=".docx")

    follow_up_page = admin_client.get(
        reverse("admin:gestiones_followup_change", args=[follow_up.pk])
    ).content.decode()
    template_page = admin_client.get(
        reverse("admin:gestiones_documenttemplate_change", args=[contract.pk])
    ).content.decode()

    assert reverse("gestiones:attachment_download", args=[docx.pk]) in follow_up_page
    assert reverse("gestiones:document_template_file", args=[contract.pk]) in template_page
    assert "/media/" not in follow_up_page + template_page
