"""Finding old entries on the 360 timeline: a text search, a date range, and «Cargar más»
with both, with htmx or without JavaScript."""

import re
from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm import selectors
from crm.forms import TimelineFilterForm
from crm.models import Interaction
from tests.factories import CustomerFactory, InteractionFactory

HTMX = {"HX-Request": "true"}


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


def entry(customer, summary, at, **fields) -> Interaction:
    return InteractionFactory(customer=customer, summary=summary, occurred_at=at, **fields)


def timeline_url(customer) -> str:
    return reverse("crm:customer_timeline", args=[customer.pk])


def next_link(response) -> str:
    found = re.search(r'hx-get="([^"]*before_id=[^"]*)"', response.content.decode())
    return found.group(1).replace("&amp;", "&")


# The selector


def test_the_search_ignores_accents_and_case(customer):
    entry(customer, "Llamada a Rosa HUAMÁN por su cuota", local(2026, 3, 1, 10))
    entry(customer, "Correo de bienvenida", local(2026, 3, 2, 10))

    plain, _ = selectors.timeline(customer, text="huaman")
    accented, _ = selectors.timeline(customer, text="Huamán")

    assert [i.summary for i in plain] == ["Llamada a Rosa HUAMÁN por su cuota"]
    assert accented == plain


def test_the_search_keeps_to_the_customer(customer):
    entry(customer, "Promesa de pago", local(2026, 3, 1, 10))
    entry(CustomerFactory(), "Promesa de pago de otro", local(2026, 3, 2, 10))

    found, _ = selectors.timeline(customer, text="promesa")

    assert [i.customer_id for i in found] == [customer.pk]


def test_every_word_must_be_in_the_entry(customer):
    entry(customer, "Pago recibido por Yape", local(2026, 3, 1, 10))
    entry(customer, "Pago rechazado", local(2026, 3, 2, 10))

    found, _ = selectors.timeline(customer, text="pago yape")

    assert [i.summary for i in found] == ["Pago recibido por Yape"]


def test_the_search_reads_a_long_entrys_whole_text_and_its_details(customer):
    entry(
        customer,
        "Nota larga…",
        local(2026, 3, 1, 10),
        text="Nota larga… y al final: refinanciación",
    )
    entry(
        customer,
        "Crédito reprogramado",
        local(2026, 3, 2, 10),
        payload={"motivo": "Pérdida de empleo"},
    )

    by_text, _ = selectors.timeline(customer, text="refinanciacion")
    by_detail, _ = selectors.timeline(customer, text="perdida de empleo")

    assert [i.summary for i in by_text] == ["Nota larga…"]
    assert [i.summary for i in by_detail] == ["Crédito reprogramado"]


def test_the_dates_keep_whole_local_days_both_included(customer):
    entry(customer, "antes", local(2026, 5, 31, 23, 59))
    entry(customer, "primer minuto", local(2026, 6, 1, 0, 0))
    entry(customer, "último minuto", local(2026, 6, 15, 23, 59))
    entry(customer, "después", local(2026, 6, 16, 0, 0))

    found, _ = selectors.timeline(customer, since=date(2026, 6, 1), until=date(2026, 6, 15))

    assert [i.summary for i in found] == ["último minuto", "primer minuto"]


def test_search_dates_and_kind_page_together_without_gaps_or_repeats(customer):
    start = local(2026, 1, 1, 9)
    for i in range(120):
        kind = Interaction.Kind.CALL if i % 2 else Interaction.Kind.NOTE
        word = "cuota" if i % 3 else "saludo"
        entry(customer, f"{word} {i}", start + timedelta(hours=i * 7), kind=kind)
    filters = {
        "text": "CUOTA",
        "kind": "call",
        "since": date(2026, 1, 5),
        "until": date(2026, 1, 30),
    }
    expected = [
        i.pk
        for i in customer.interactions.order_by("-occurred_at", "-id")
        if i.kind == "call"
        and "cuota" in i.summary
        and date(2026, 1, 5) <= timezone.localdate(i.occurred_at) <= date(2026, 1, 30)
    ]

    seen, cursor = [], None
    while True:
        rows, cursor = selectors.timeline(customer, before=cursor, size=7, **filters)
        seen += [i.pk for i in rows]
        if cursor is None:
            break

    assert len(expected) > 14
    assert seen == expected


def test_a_search_stops_at_its_reading_limit_and_the_next_page_goes_on(customer, monkeypatch):
    monkeypatch.setattr(selectors, "TIMELINE_SEARCH_BATCH", 5)
    monkeypatch.setattr(selectors, "TIMELINE_SEARCH_READS", 10)
    old = entry(customer, "Acuerdo firmado", local(2026, 1, 1, 9))
    for i in range(15):
        entry(customer, f"Recordatorio {i}", local(2026, 2, 1, 9) + timedelta(hours=i))

    first, cursor = selectors.timeline(customer, text="acuerdo")
    second, last = selectors.timeline(customer, text="acuerdo", before=cursor)

    assert first == []
    assert cursor is not None
    assert second == [old]
    assert last is None


# The screen


def test_the_search_box_finds_an_old_entry_in_the_panel(client, asesor, customer):
    entry(customer, "Visita a la agencia de Huánuco", local(2025, 2, 3, 11))
    for i in range(30):
        entry(customer, f"Recordatorio {i}", local(2026, 3, 1, 9) + timedelta(hours=i))
    client.force_login(asesor)

    response = client.get(timeline_url(customer), {"q": "huanuco"}, headers=HTMX)

    assertTemplateUsed(response, "crm/partials/timeline.html")
    assertNotContains(response, "<html")
    assertContains(response, "Visita a la agencia de Huánuco")
    assertNotContains(response, "Recordatorio")


def test_the_next_page_keeps_the_search_the_dates_and_the_kind(client, asesor, customer):
    for i in range(30):
        entry(
            customer,
            f"Llamada de cobranza {i:02d}",
            local(2026, 6, 1, 9) + timedelta(hours=i),
            kind="call",
        )
        entry(customer, f"Nota de cobranza {i:02d}", local(2026, 6, 1, 9) + timedelta(hours=i))
    entry(customer, "Llamada de cobranza fuera de fecha", local(2026, 5, 1, 9), kind="call")
    client.force_login(asesor)
    filters = {"q": "cobranza", "desde": "2026-06-01", "hasta": "2026-06-30", "kind": "call"}

    first = client.get(timeline_url(customer), filters, headers=HTMX)
    link = next_link(first)
    more = client.get(link, headers=HTMX)

    for name, value in filters.items():
        assert f"{name}={value}" in link
    assertTemplateUsed(more, "crm/partials/timeline_page.html")
    assertContains(more, "Llamada de cobranza 09")
    assertContains(more, "Llamada de cobranza 00")
    assertNotContains(more, "Llamada de cobranza 10")
    assertNotContains(more, "Nota de cobranza")
    assertNotContains(more, "fuera de fecha")


def test_the_kind_chips_keep_the_search(client, asesor, customer):
    entry(customer, "Llamada por la cuota", local(2026, 6, 1, 9), kind="call")
    entry(customer, "Nota sobre la cuota", local(2026, 6, 2, 9))
    client.force_login(asesor)

    response = client.get(
        timeline_url(customer), {"q": "cuota", "desde": "2026-06-01"}, headers=HTMX
    )

    assertContains(
        response, f'hx-get="{timeline_url(customer)}?q=cuota&amp;desde=2026-06-01&amp;kind=call"'
    )


def test_an_empty_result_says_what_was_searched_and_offers_to_clear_it(client, asesor, customer):
    entry(customer, "Llamada de bienvenida", local(2026, 6, 3, 9))
    client.force_login(asesor)

    response = client.get(
        timeline_url(customer),
        {"q": "<zarzamora>", "desde": "2026-06-01", "hasta": "2026-06-15"},
        headers=HTMX,
    )

    assertContains(
        response, "Ninguna entrada coincide con «&lt;zarzamora&gt;» entre 01/06/2026 y 15/06/2026."
    )
    assertContains(response, f'href="{timeline_url(customer)}#timeline-panel"')
    assertNotContains(response, "Llamada de bienvenida")


def test_without_javascript_the_next_page_link_opens_the_whole_page(client, asesor, customer):
    for i in range(25):
        entry(customer, f"Evento {i:02d}", local(2026, 6, 1, 9) - timedelta(hours=i))
    client.force_login(asesor)
    link = next_link(client.get(customer.get_absolute_url()))

    response = client.get(link)

    assertTemplateUsed(response, "crm/customer_detail.html")
    assertContains(response, "Rosa Huamán Torres")
    assertContains(response, "Evento 20")
    assertContains(response, "Evento 24")
    assertNotContains(response, "Evento 19")
    assertContains(response, "Volver a las entradas más recientes")


def test_without_javascript_the_search_form_opens_the_whole_page(client, asesor, customer):
    entry(customer, "Pago por Yape", local(2026, 6, 1, 9))
    entry(customer, "Correo enviado", local(2026, 6, 2, 9))
    client.force_login(asesor)

    response = client.get(timeline_url(customer), {"q": "yape"})

    assertTemplateUsed(response, "crm/customer_detail.html")
    assertContains(response, "Pago por Yape")
    assertNotContains(response, "Correo enviado")
    assertContains(response, 'value="yape"')


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("q=%00", "q", "caracteres nulos"),
        ("q=" + "a" * 100_000, "q", "100 caracteres"),
        ("desde=2026-02-30", "desde", "fecha válida"),
        ("hasta=abc", "hasta", "fecha válida"),
        ("desde=1999-12-31", "desde", "Elija una fecha entre el 01/01/2000"),
        ("hasta=2999-01-01", "hasta", "Elija una fecha entre el 01/01/2000"),
        ("desde=2026-06-15&hasta=2026-06-01", "hasta", "La fecha final es anterior a la inicial."),
    ],
)
@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "no-js"])
def test_a_bad_filter_is_an_error_next_to_its_field(
    client, asesor, customer, query, field, message, headers
):
    entry(customer, "Llamada de bienvenida", local(2026, 6, 3, 9))
    client.force_login(asesor)

    response = client.get(f"{timeline_url(customer)}?{query}", headers=headers)

    assert response.status_code == 200
    found = re.search(
        rf'<div class="invalid-feedback" id="timeline-{field}-errors">([^<]*)</div>',
        response.content.decode(),
    )
    assert found and message.lower() in found.group(1).lower()
    assertContains(response, "Corrija lo marcado en los filtros para ver el historial.")
    assertNotContains(response, "Llamada de bienvenida")


def test_a_huge_search_is_written_back_only_as_long_as_the_box_takes(client, asesor, customer):
    client.force_login(asesor)

    response = client.get(f"{timeline_url(customer)}?q={'a' * 100_000}", headers=HTMX)

    assertContains(response, f'value="{"a" * 100}"')
    assert len(response.content) < 20_000


def test_a_lone_surrogate_in_the_search_is_a_search_not_a_500(client, asesor, customer):
    entry(customer, "Llamada de bienvenida", local(2026, 6, 3, 9))
    client.force_login(asesor)

    response = client.get(f"{timeline_url(customer)}?q=%ED%A0%80", headers=HTMX)

    assert response.status_code == 200
    assertContains(response, "Ninguna entrada coincide con")


def test_the_last_day_allowed_is_ten_years_from_today(db):
    today = timezone.localdate()
    ten_years = today.replace(year=today.year + 10, day=min(today.day, 28))

    assert TimelineFilterForm({"hasta": ten_years.isoformat()}).is_valid()
    assert not TimelineFilterForm(
        {"hasta": (ten_years + timedelta(days=30)).isoformat()}
    ).is_valid()
