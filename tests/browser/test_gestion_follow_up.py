"""End to end, in the system Chromium: an advisor records a follow-up that moves a gestión."""

import re

import pytest
from playwright.sync_api import Page, expect

from crm.gestiones import examples, services
from crm.gestiones.models import Gestion
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.browser


def test_an_advisor_records_a_follow_up_that_changes_the_state(page: Page, live_server, roles):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    customer = CustomerFactory(first_name="Rosa", last_name="Huamán")
    gestion = services.create_gestion(
        customer=customer,
        gestion_type=credit,
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )

    page.goto(f"{live_server.url}/ingresar/")
    page.get_by_label("Usuario").fill("asesor")
    page.get_by_label("Contraseña").fill("demo1234")
    page.get_by_role("button", name="Ingresar").click()
    page.goto(f"{live_server.url}/gestiones/")
    page.get_by_role("link", name=f"#{gestion.pk}").click()

    expect(page.locator("#gestion-state")).to_have_text("Creado")
    page.get_by_label("Acción").select_option(label="Revisar documentos")
    # The results of the chosen action arrive by HTMX.
    result = page.get_by_label("Resultado")
    expect(result.locator("option", has_text="Documentos completos → Pre estudio")).to_have_count(1)
    result.select_option(label="Documentos completos → Pre estudio")
    page.get_by_label("Notas").fill("DNI y boletas recibidos")
    page.get_by_role("button", name="Registrar seguimiento").click()

    expect(page).to_have_url(re.compile(rf"/gestiones/{gestion.pk}/$"))
    expect(page.locator("#messages")).to_contain_text("La gestión pasó a «Pre estudio»")
    expect(page.locator("#gestion-state")).to_have_text("Pre estudio")
    expect(page.locator("#follow-ups")).to_contain_text("DNI y boletas recibidos")
    assert Gestion.objects.get(pk=gestion.pk).state.name == "Pre estudio"

    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    expect(page.locator("#timeline")).to_contain_text("Revisar documentos → Documentos completos")
    expect(page.locator("#customer-gestiones")).to_contain_text("Pre estudio")
