"""The /recovery portal's settings in admin: a lower *Descuento máximo* says which active
campaigns stay above it, and the texts take variables only where a debtor is known (the
offer text), with the written-off templates' variables."""

from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from recovery.models import Campaign, RecoverySettings
from tests.factories import CustomerFactory
from tests.recovery.conftest import make_campaign

pytestmark = pytest.mark.django_db


def _url(portal: RecoverySettings) -> str:
    return reverse("admin:recovery_recoverysettings_change", args=[portal.pk])


def _form(portal: RecoverySettings, **changes) -> dict:
    data = {
        "title": portal.title,
        "intro": portal.intro,
        "offer_text": portal.offer_text,
        "legal_text": "",
        "countdown_hours": "48",
        "decline_reasons": portal.decline_reasons,
        "advisor_whatsapp": "51987654321",
        "max_discount_percent": "95",
    }
    return {**data, **changes}


def _campaign(code: str, **fields) -> Campaign:
    return make_campaign(CustomerFactory(), code=code, **fields)


# --- A lower maximum discount ------------------------------------------------------------------


def test_lowering_the_maximum_says_how_many_active_campaigns_stay_above_it(admin_client):
    _campaign("C-40", discount_type="percent", discount_value=Decimal("40"))
    # 6,000.00 off 12,000.00: 50 %.
    _campaign("C-MONTO", discount_type="amount", discount_value=Decimal("6000.00"))
    _campaign("C-20", discount_type="percent", discount_value=Decimal("20"))
    finished = _campaign("C-FIN", discount_type="percent", discount_value=Decimal("60"))
    Campaign.objects.filter(pk=finished.pk).update(status=Campaign.Status.FINISHED)
    portal = RecoverySettings.current()

    response = admin_client.post(
        _url(portal), _form(portal, max_discount_percent="30"), follow=True
    )

    assertContains(
        response,
        "2 campañas activas tienen un descuento mayor que el nuevo máximo (30 %); siguen "
        "con el suyo.",
    )
    portal.refresh_from_db()
    assert portal.max_discount_percent == Decimal("30")
    assert Campaign.objects.get(code="C-40").discount_value == Decimal("40")


def test_one_campaign_above_the_new_maximum_is_said_in_the_singular(admin_client):
    _campaign("C-40", discount_type="percent", discount_value=Decimal("40"))
    portal = RecoverySettings.current()

    response = admin_client.post(
        _url(portal), _form(portal, max_discount_percent="35.5"), follow=True
    )

    assertContains(
        response,
        "1 campaña activa tiene un descuento mayor que el nuevo máximo (35.5 %); sigue con "
        "el suyo.",
    )


def test_an_amount_discount_exactly_at_the_new_maximum_is_not_above_it(admin_client):
    # 3,600.00 off 12,000.00: 30 %, which the new maximum still allows.
    _campaign("C-MONTO", discount_type="amount", discount_value=Decimal("3600.00"))
    portal = RecoverySettings.current()

    response = admin_client.post(
        _url(portal), _form(portal, max_discount_percent="30"), follow=True
    )

    assertNotContains(response, "nuevo máximo")


def test_a_maximum_no_active_campaign_passes_adds_no_warning(admin_client):
    _campaign("C-40", discount_type="percent", discount_value=Decimal("40"))
    portal = RecoverySettings.current()

    response = admin_client.post(
        _url(portal), _form(portal, max_discount_percent="50"), follow=True
    )

    assert response.redirect_chain
    assertNotContains(response, "nuevo máximo")


# --- Variables in the portal's texts -----------------------------------------------------------


def test_the_offer_text_takes_the_debtors_and_the_campaigns_variables(admin_client):
    portal = RecoverySettings.current()
    text = "{nombre}, cancele hoy con {porcentaje_descuento} de descuento: {monto_cancelacion}."

    response = admin_client.post(_url(portal), _form(portal, offer_text=text))

    assert response.status_code == 302
    portal.refresh_from_db()
    assert portal.offer_text == text


def test_the_offer_text_refuses_a_variable_it_does_not_have(admin_client):
    portal = RecoverySettings.current()
    before = portal.offer_text

    response = admin_client.post(_url(portal), _form(portal, offer_text="Hola {deuda}"))

    errors = response.context["adminform"].form.errors["offer_text"]
    assert errors[0].startswith("La oferta no tiene {deuda}. Puede usar: ")
    assert "{nombre}" in errors[0]
    assert "{monto_cancelacion}" in errors[0]
    portal.refresh_from_db()
    assert portal.offer_text == before


@pytest.mark.parametrize("variable", ["{monto_pago}", "{link_pago}", "{saldo}"])
def test_the_offer_text_refuses_variables_of_events_links_and_loans(admin_client, variable):
    portal = RecoverySettings.current()

    response = admin_client.post(_url(portal), _form(portal, offer_text=f"Pague {variable}"))

    assert response.status_code == 200
    assertContains(response, f"La oferta no tiene {variable}.")


def test_the_offer_text_refuses_a_brace_left_open(admin_client):
    portal = RecoverySettings.current()

    response = admin_client.post(_url(portal), _form(portal, offer_text="Hola {nombre"))

    assertContains(response, "Hay una llave «{» sin cerrar.")


def test_the_offer_texts_help_names_its_variables(admin_client):
    portal = RecoverySettings.current()

    response = admin_client.get(_url(portal))

    help_text = response.context["adminform"].form.fields["offer_text"].help_text
    assert help_text.startswith("Admite variables entre llaves")
    assert "{nombre}" in help_text
    assert "{saldo_campana}" in help_text
    assert "{link_pago}" not in help_text


@pytest.mark.parametrize("field", ["title", "intro", "legal_text"])
def test_texts_shown_before_the_debtor_is_known_refuse_variables(admin_client, field):
    portal = RecoverySettings.current()

    response = admin_client.post(_url(portal), _form(portal, **{field: "Hola {nombre}"}))

    assert response.context["adminform"].form.errors[field] == [
        "Este texto es igual para todos los deudores y no admite variables: «{nombre}» se "
        "vería tal cual. Las variables van en «Texto de la oferta»."
    ]


def test_a_brace_that_is_no_variable_stays_in_the_legal_text(admin_client):
    portal = RecoverySettings.current()
    text = "Ver condiciones {art. 5}."

    response = admin_client.post(_url(portal), _form(portal, legal_text=text))

    assert response.status_code == 302
    portal.refresh_from_db()
    assert portal.legal_text == text
