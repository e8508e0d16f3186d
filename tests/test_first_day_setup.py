"""A new lender's first day: an empty choice says what is missing and where it is made,
an «Administrador» can open Administración, and an empty list is not a failed search."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from callcenter.models import CatalogProduct
from tests.callcenter.conftest import make_lead
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def jefe(db):
    return UserFactory(username="jefe", is_staff=True, is_superuser=True)


def alert(html: str, element_id: str) -> str:
    """Return the text of the element with this id (up to its closing </div>)."""
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</div>", start)]


# --- Empty choices name what is missing (M4) ----------------------------------------------


def test_the_new_loan_form_without_products_links_an_administrator_to_create_one(client, jefe):
    client.force_login(jefe)

    html = client.get(reverse("credits:loan_create")).content.decode()

    text = alert(html, "no-loan-products")
    assert "No hay productos de crédito activos" in text
    assert reverse("admin:credits_loanproduct_add") in text


def test_the_credit_application_without_products_tells_an_advisor_who_creates_them(client, asesor):
    client.force_login(asesor)

    html = client.get(reverse("gestiones:application_create")).content.decode()

    text = alert(html, "no-loan-products")
    assert "No hay productos de crédito activos" in text
    assert "Un administrador los crea en Administración → Créditos → Productos de crédito" in text
    assert "/admin/" not in text


def test_a_new_liquidation_without_investors_links_to_the_new_investor_screen(client, jefe):
    client.force_login(jefe)

    html = client.get(reverse("credits:liquidation_create")).content.decode()

    text = alert(html, "no-investors")
    assert "No hay inversionistas activos" in text
    assert reverse("credits:investor_create") in text


def test_a_new_gestion_without_types_says_so(client, asesor):
    customer = CustomerFactory()
    client.force_login(asesor)

    html = client.get(reverse("gestiones:create", args=[customer.pk])).content.decode()

    text = alert(html, "no-gestion-types")
    assert "No hay tipos de gestión activos" in text
    assert "Administración → Gestiones → Tipos de gestión" in text


def test_an_agents_empty_catalog_says_who_fills_it(client, agente):
    assert not CatalogProduct.objects.exists()
    lead = make_lead()
    client.force_login(agente)

    html = client.get(
        reverse("callcenter:catalog", args=[lead.pk]), headers={"HX-Request": "true"}
    ).content.decode()

    text = alert(html, "empty-catalog")
    assert "El catálogo no tiene productos activos" in text
    assert "Un administrador los crea en Administración → Call center → Catálogo" in text


def test_a_search_of_the_catalog_that_finds_nothing_still_says_so(client, agente):
    lead = make_lead()
    client.force_login(agente)

    html = client.get(
        reverse("callcenter:catalog", args=[lead.pk]),
        {"q": "zapatilla"},
        headers={"HX-Request": "true"},
    ).content.decode()

    assert "Nada en el catálogo coincide con «zapatilla»" in html
    assert 'id="empty-catalog"' not in html


# --- An «Administrador» is staff (M7) ---------------------------------------------------


def test_giving_the_administrador_role_ticks_es_staff_and_says_so(client, jefe):
    ana = UserFactory(username="ana", is_staff=False)
    client.force_login(jefe)
    change = reverse("admin:auth_user_change", args=[ana.pk])
    form = client.get(change).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "groups": [Group.objects.get(name="Administrador").pk],
            "is_active": "on",
            "date_joined_0": form.initial["date_joined"].strftime("%d/%m/%Y"),
            "date_joined_1": form.initial["date_joined"].strftime("%H:%M:%S"),
        }
    )
    data.pop("date_joined")
    data.pop("is_staff", None)
    data.pop("is_superuser", None)
    data.pop("last_login", None)

    response = client.post(change, data, follow=True)

    ana.refresh_from_db()
    assert ana.groups.filter(name="Administrador").exists()
    assert ana.is_staff
    assert "Se marcó «Es staff» en ana" in response.content.decode()


# --- An empty list is not a failed search (M3) ------------------------------------------


def test_an_empty_customer_list_says_there_are_none_yet(client, jefe):
    client.force_login(jefe)

    html = client.get(reverse("crm:customer_list")).content.decode()

    assert "Aún no hay clientes." in html
    assert "que coincidan" not in html
    assert f'href="{reverse("crm:customer_create")}"' in html
    assert "Registrar el primero" in html


def test_an_empty_list_offers_no_link_to_who_may_not_create(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="cobradora", role="Cobranzas"))

    response = client.get(reverse("credits:loan_list"))

    assert response.status_code == 200  # sees loans, may not create one
    assert "Aún no hay créditos." in response.content.decode()
    assert "Registrar el primero" not in response.content.decode()


def test_a_customer_search_that_finds_nothing_says_so(client, jefe):
    client.force_login(jefe)

    html = client.get(reverse("crm:customer_list"), {"q": "Zzyzx"}).content.decode()

    assert "No hay clientes que coincidan con la búsqueda." in html
    assert "Aún no hay clientes" not in html


def test_an_empty_loan_list_only_sorted_says_there_are_none_yet(client, jefe):
    client.force_login(jefe)

    html = client.get(reverse("credits:loan_list"), {"sort": "-created_at"}).content.decode()

    assert "Aún no hay créditos." in html


def test_no_document_templates_yet_offers_the_first_one(client, jefe):
    client.force_login(jefe)

    html = client.get(reverse("gestiones:document_template_list")).content.decode()

    assert "Aún no hay plantillas de documentos." in html
    assert reverse("gestiones:document_template_create") in alert_row(html)


def alert_row(html: str) -> str:
    start = html.index('id="document-template-empty"')
    return html[start : html.index("</tr>", start)]
