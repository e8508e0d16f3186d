"""The 360 timeline reads as sentences: amounts as money, dates as dates, no payload keys."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from crm import services, timeline
from crm.models import Interaction


def render(source: str, **context) -> str:
    return Template("{% load formatting %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("1234.5"), "PEN", "S/ 1,234.50"),
        (Decimal("10"), "USD", "US$ 10.00"),
        ("2500000.005", "PEN", "S/ 2,500,000.01"),
        (Decimal("99.9"), None, "99.90"),
        (None, "PEN", ""),
    ],
)
def test_the_money_filter_writes_amounts_with_the_currency_symbol(amount, currency, shown):
    assert render("{{ amount|money:currency }}", amount=amount, currency=currency) == shown


def test_a_payment_entry_reads_as_a_sentence_with_money_and_no_codes(client, asesor, customer):
    services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.PAYMENT,
        direction=Interaction.Direction.INBOUND,
        summary="Pago de PEN 1234.50 al crédito 2645290988 (MercadoPago)",
        payload={
            "loan": 250,
            "payment": 1638,
            "reference": "MP 41090181578",
            "prepaid_principal": "0.00",
            "credited": "12.5",
        },
    )
    client.force_login(asesor)

    response = client.get(customer.get_absolute_url())

    # "S/" held to its amount by a no-break space: a line never ends with the symbol alone.
    assertContains(response, "Pago de S/\u00a01,234.50 al crédito 2645290988 (MercadoPago)")
    assertContains(response, "Referencia")
    assertContains(response, "A saldo a favor")
    assertContains(response, "S/\u00a012.50")
    for raw in ("PEN 1234.50", "prepaid_principal", "credited", ">loan<", ">payment<", "1638"):
        assertNotContains(response, raw)


def test_dates_in_an_entry_are_written_as_dates(client, asesor, customer):
    services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary="Gestión #3012: datos actualizados",
        payload={"gestion": 3012, "fecha_de_visita": "2026-03-05"},
    )
    client.force_login(asesor)

    response = client.get(customer.get_absolute_url())

    assertContains(response, "Fecha de visita")
    assertContains(response, "05/03/2026")
    assertNotContains(response, "2026-03-05")


def test_a_note_longer_than_a_summary_is_kept_whole_and_shown_whole(client, asesor, customer):
    text = "Llamada larga. " + "El cliente explica su situación. " * 30
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "note", "summary": text},
        follow=True,
    )

    note = customer.interactions.get(kind=Interaction.Kind.NOTE)
    assert note.text == text.strip()
    assert len(note.summary) <= 500
    assert note.summary.endswith("…")
    assertContains(response, "Nota agregada completa")
    assertContains(response, text.strip()[-60:])


def test_a_note_too_long_even_for_the_full_text_is_refused_saying_so(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "note", "summary": "x" * 4001},
        headers={"HX-Request": "true"},
    )

    assertContains(response, "La nota tiene 4001 caracteres y el máximo es 4000")
    assert not customer.interactions.filter(kind=Interaction.Kind.NOTE).exists()


def test_an_imported_loans_entry_shows_no_internal_keys(customer):
    """Its payload's keys were shown in English: "Payments 4 · Schedule engine · Import 2"."""
    entry = Interaction.objects.create(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary="Crédito L1 importado (importación #2): PEN 1,000.00 en 12 cuotas, 4 pagos",
        payload={"loan": 1, "payments": 4, "schedule": "engine", "import": 2},
        occurred_at=timezone.now(),
    )

    assert timeline.entry(entry).details == []


def test_collections_entries_show_no_internal_keys_and_name_what_was_paid(customer):
    """Their payload's keys were shown in English: "Agreement 5 · Promise 2 · Paid 945.60"."""
    entry = Interaction.objects.create(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary="Compromiso de pago cumplido",
        payload={"promise": 2, "agreement": 5, "link": 3, "paid": "945.60"},
        occurred_at=timezone.now(),
    )

    assert timeline.entry(entry).details == [("Pagado", "S/\xa0945.60")]
