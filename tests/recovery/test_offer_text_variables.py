"""The /recovery offer text says the debtor's and the campaign's values where it names
them ({nombre}, {monto_cancelacion}…), escaped as any text on the page."""

from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from recovery.models import RecoverySettings
from recovery.portal import selectors
from tests.recovery.conftest import TODAY
from tests.recovery.test_portal import OFFER, google, portal, signed_in  # noqa: F401


def test_the_offer_text_is_written_with_the_debtors_and_the_campaigns_values(
    portal,  # noqa: F811
    campaign,
    debtor,
):
    portal.offer_text = (
        "{nombre}, cancele hoy con {porcentaje_descuento} de descuento: {monto_cancelacion}."
    )
    portal.save()

    page = signed_in(Client(), debtor).get(OFFER)

    assertContains(page, f"{debtor.first_name}, cancele hoy con 40 % de descuento: S/ 7,200.00.")
    assertNotContains(page, "{nombre}")


def test_a_name_in_the_offer_text_is_escaped(portal, campaign, debtor):  # noqa: F811
    debtor.first_name = "<b>Ana</b>"
    debtor.save()
    portal.offer_text = "Hola {nombre}"
    portal.save()

    page = signed_in(Client(), debtor).get(OFFER)

    assertContains(page, "Hola &lt;b&gt;Ana&lt;/b&gt;")


def test_an_offer_text_without_variables_shows_doubled_braces_as_one(campaign, debtor):
    settings_row = RecoverySettings(offer_text="Descuento {{exclusivo}}")

    assert selectors.offer_text(settings_row, campaign, debtor, TODAY) == "Descuento {exclusivo}"
