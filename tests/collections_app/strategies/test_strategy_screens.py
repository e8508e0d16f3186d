"""The Segmentación, Plantillas and Eventos screens: who may open them, what their forms
refuse and say, the live count and the preview, and the deletions they refuse."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app.models import EventSetting, Flow, FlowStep, MessageTemplate, Segment
from collections_app.strategies import segments
from crm.models import MessagePolicy
from tests.browser.pages import sign_in
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.collections_app.strategies.conftest import make_template
from tests.factories import CustomerFactory, TagFactory, UserFactory

HTMX = {"HX-Request": "true"}


def url(name, *args) -> str:
    return reverse(f"collections_app:{name}", args=args)


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def template_data(**fields) -> dict:
    return {
        "name": "Aviso",
        "channel": "sms",
        "portfolio": "vigente",
        "subject": "",
        "body": "Hola {nombre}, su saldo es {saldo}.",
        "whatsapp_name": "",
        "whatsapp_language": "es",
        "is_active": "on",
        **fields,
    }


def errors_of(response, form="form") -> dict:
    return response.context[form].errors


# --- Who may open what --------------------------------------------------------------------


def _pages(segment, template) -> list[str]:
    return [
        url("segment_list"),
        url("segment_create"),
        url("segment_update", segment.pk),
        url("segment_count", segment.pk),
        url("segment_delete", segment.pk),
        url("template_list"),
        url("template_create"),
        url("template_update", template.pk),
        url("template_delete", template.pk),
        url("template_variables"),
        url("event_settings"),
    ]


def _posts(segment, template) -> list[str]:
    return [
        url("segment_create"),
        url("segment_update", segment.pk),
        url("segment_delete", segment.pk),
        url("segment_count_preview"),
        url("template_create"),
        url("template_update", template.pk),
        url("template_delete", template.pk),
        url("template_counter"),
        url("template_preview"),
        url("event_settings"),
        url("message_policy"),
    ]


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_people_without_the_strategies_permissions_are_refused(
    client, request, who, segment, sms_template
):
    client.force_login(request.getfixturevalue(who))

    for page in _pages(segment, sms_template):
        assert client.get(page).status_code == 403, page
    for page in _posts(segment, sms_template):
        assert client.post(page, {"confirm": "yes", "name": "x"}).status_code == 403, page

    assert Segment.objects.filter(pk=segment.pk).exists()
    assert MessageTemplate.objects.filter(pk=sms_template.pk).exists()


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(url("segment_list"))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("who", ["cobranzas", "supervisor"])
def test_collections_agents_and_supervisors_open_every_screen(
    client, request, who, segment, sms_template
):
    client.force_login(request.getfixturevalue(who))

    for page in _pages(segment, sms_template):
        assert client.get(page).status_code == 200, page


def test_the_strategies_address_the_readme_names_opens_its_first_tab(client, agent_client, asesor):
    home = url("strategies_home")
    assert home == "/cobranzas/estrategias/"

    assert agent_client.get(home)["Location"] == url("segment_list")
    client.force_login(asesor)
    assert client.get(home).status_code == 403


def test_every_page_has_the_strategies_tabs(agent_client, segment):
    response = agent_client.get(url("segment_list"))

    for label in ("Segmentación", "Plantillas", "Eventos", "Flujos", "Efectividad"):
        assertContains(response, label)
    assertContains(response, url("template_list"))
    assertContains(response, url("event_settings"))
    assertContains(response, url("flow_list"))
    assertContains(response, url("effectiveness"))


# --- Segmentación -------------------------------------------------------------------------


def test_the_segment_list_searches_and_filters_by_use(agent_client, segment, cobranzas):
    other = segments.save_segment(data={"name": "Sin contacto"}, actor=cobranzas)
    Flow.objects.create(name="Mora temprana", segment=segment)

    found = agent_client.get(url("segment_list"), {"q": "contacto"})
    used = agent_client.get(url("segment_list"), {"use": segments.IN_USE})

    assert [s.pk for s, _rules in found.context["page"].object_list] == [other.pk]
    assert [s.pk for s, _rules in used.context["page"].object_list] == [segment.pk]
    assertContains(used, "Días de atraso: de 1 a 30")
    assertContains(used, "Usado por 1 flujo")


def test_the_segment_list_answers_htmx_with_its_results(agent_client, segment):
    response = agent_client.get(url("segment_list"), {"q": "Atraso"}, headers=HTMX)

    assertTemplateUsed(response, "collections_app/strategies/partials/segment_results.html")
    assertNotContains(response, 'id="segment-filters"')


def test_each_segments_count_loads_after_the_list(agent_client, segment, flow_debtor):
    page = agent_client.get(url("segment_list"))

    count = agent_client.get(url("segment_count", segment.pk), headers=HTMX)

    assertContains(page, url("segment_count", segment.pk))
    assertContains(count, "1 cliente")


def _queries(client, address) -> int:
    """Count the queries of one request but the session's (none where Redis keeps it)."""
    client.get(address)  # the permission cache filled
    with CaptureQueriesContext(connection) as queries:
        assert client.get(address).status_code == 200
    return sum(1 for q in queries.captured_queries if "django_session" not in q["sql"])


def test_the_segment_list_costs_the_same_queries_however_many_rows(agent_client, cobranzas):
    tag = TagFactory(name="VIP")
    segments.save_segment(data={"name": "Seg 0", "tags": [tag]}, actor=cobranzas)
    one = _queries(agent_client, url("segment_list") + "?q=seg")
    for n in range(1, 7):
        segments.save_segment(data={"name": f"Seg {n}", "tags": [tag]}, actor=cobranzas)

    many = _queries(agent_client, url("segment_list") + "?q=seg")

    # The user, the search's matches (accents aside, compared in Python), the count, the
    # page, and its four lists (products, branches, tags, excluded).
    assert one == many == 8


def test_a_segment_is_created_from_the_form(agent_client, flow_debtor):
    response = agent_client.post(
        url("segment_create"),
        {
            "name": "Temprana",
            "min_days_past_due": "1",
            "max_days_past_due": "30",
            "buckets": ["1_30"],
        },
    )

    assert response.status_code == 302
    segment = Segment.objects.get(name="Temprana")
    assert segment.buckets == ["1_30"]
    assert segments.count(segment, datetime.date(2026, 6, 15)) == 1
    assert segment.balance_currency == "PEN"  # not sent: soles


def test_a_segment_bounds_balances_in_the_currency_chosen(agent_client):
    response = agent_client.post(
        url("segment_create"),
        {"name": "Dólares altos", "min_balance": "5000", "balance_currency": "USD"},
    )

    assert response.status_code == 302
    segment = Segment.objects.get(name="Dólares altos")
    assert segment.balance_currency == "USD"
    assertContains(agent_client.get(url("segment_list")), "Saldo: desde US$")


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (
            {"min_days_past_due": "30", "max_days_past_due": "10"},
            "max_days_past_due",
            "mayor o igual",
        ),
        ({"min_days_past_due": "4000"}, "min_days_past_due", "como máximo 3650 días"),
        ({"min_days_past_due": "-1"}, "min_days_past_due", "días de 0 en adelante"),
        ({"min_balance": "-5"}, "min_balance", "no puede ser negativo"),
        ({"min_balance": "9999999999"}, "min_balance", "hasta 999,999,999.99"),
        ({"min_balance": "900", "max_balance": "100"}, "max_balance", "mayor o igual"),
        ({"no_contact_days": "0"}, "no_contact_days", "días de 1 en adelante"),
        (
            {"no_contact_days": "30", "contacted_within_days": "10"},
            "contacted_within_days",
            "más de 30",
        ),
        ({"buckets": ["nunca"]}, "buckets", "Elija tramos de la lista"),
        ({"promise_status": "nunca"}, "promise_status", "Elija de la lista"),
        ({"balance_currency": "EUR"}, "balance_currency", "Elija de la lista"),
        ({"description": "d" * 5000}, "description", "descripción de hasta 500 caracteres"),
    ],
)
def test_the_segment_form_refuses_bounds_with_a_clear_message(agent_client, data, field, says):
    response = agent_client.post(url("segment_create"), {"name": "Mal", **data})

    assert response.status_code == 200
    assert says in " ".join(errors_of(response)[field])
    assert not Segment.objects.exists()


def test_the_live_count_follows_the_rules_without_saving(agent_client, flow_debtor, loan):
    matching = agent_client.post(
        url("segment_count_preview"),
        {"min_days_past_due": "1", "max_days_past_due": "30"},
        headers=HTMX,
    )
    none = agent_client.post(
        url("segment_count_preview"), {"min_days_past_due": "400"}, headers=HTMX
    )

    assertContains(matching, "1 cliente")
    assertContains(none, "0 clientes")
    assert not Segment.objects.exists()


def test_the_live_count_says_what_is_wrong_with_the_rules(agent_client):
    response = agent_client.post(
        url("segment_count_preview"), {"min_days_past_due": "30", "max_days_past_due": "1"}
    )

    assert response.status_code == 200
    assertContains(response, "mayor o igual")
    assertNotContains(response, "clientes")


def test_a_segment_is_changed_from_its_page(agent_client, segment):
    response = agent_client.post(
        url("segment_update", segment.pk), {"name": segment.name, "min_days_past_due": "5"}
    )

    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.min_days_past_due, segment.max_days_past_due) == (5, None)


def test_deleting_a_segment_asks_first(agent_client, segment):
    asked = agent_client.get(url("segment_delete", segment.pk))
    unconfirmed = agent_client.post(url("segment_delete", segment.pk))

    assertContains(asked, "Sí, eliminar")
    assert unconfirmed.status_code == 200
    assert Segment.objects.filter(pk=segment.pk).exists()

    done = agent_client.post(url("segment_delete", segment.pk), {"confirm": "yes"})

    assert done.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_a_segment_a_flow_uses_is_not_deleted_and_the_page_says_why(agent_client, segment):
    Flow.objects.create(name="Mora temprana", segment=segment)

    asked = agent_client.get(url("segment_delete", segment.pk))
    refused = agent_client.post(url("segment_delete", segment.pk), {"confirm": "yes"})

    assertContains(asked, "«Mora temprana»")
    assertNotContains(asked, "Sí, eliminar")
    assert refused.status_code == 409
    assertContains(refused, "No se puede eliminar el segmento", status_code=409)
    assert Segment.objects.filter(pk=segment.pk).exists()


# --- Plantillas ---------------------------------------------------------------------------


def test_the_template_list_searches_and_filters_by_channel_and_portfolio(
    agent_client, sms_template, whatsapp_template, email_template
):
    castigada = make_template(name="Oferta castigada", portfolio="castigada", body="Hola {nombre}")

    def listed(**params):
        response = agent_client.get(url("template_list"), params)
        return {t.pk for t in response.context["page"].object_list}

    assert listed(channel="whatsapp") == {whatsapp_template.pk}
    assert listed(portfolio="castigada") == {castigada.pk}
    assert listed(q="correo") == {email_template.pk}
    assert listed(channel="fax") == set()  # an unknown filter lists nothing, never fails


def test_the_template_list_costs_the_same_queries_however_many_rows(agent_client):
    make_template(name="Plantilla 0")
    one = _queries(agent_client, url("template_list") + "?q=plantilla")
    for n in range(1, 7):
        make_template(name=f"Plantilla {n}")

    many = _queries(agent_client, url("template_list") + "?q=plantilla")

    # The user, the search's matches, the count, the page (with its usage counted in the
    # same query).
    assert one == many == 4


def test_a_template_is_created_from_the_form(agent_client):
    response = agent_client.post(url("template_create"), template_data())

    assert response.status_code == 302
    assert MessageTemplate.objects.get(name="Aviso").body == "Hola {nombre}, su saldo es {saldo}."


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"body": "Hola {deuda}"}, "body", "Variable desconocida: {deuda}. Disponibles:"),
        ({"body": "Hola {nombre"}, "body", "sin cerrar"),
        ({"body": "x" * 919}, "body", "un SMS admite hasta 918"),
        ({"channel": "email", "subject": ""}, "subject", "Indique el asunto del correo."),
        ({"channel": "whatsapp"}, "whatsapp_name", "aprobó la plantilla"),
        ({"portfolio": "castigada"}, "body", "solo para plantillas de cartera vigente"),
    ],
)
def test_the_template_form_says_what_is_wrong_on_its_field(agent_client, fields, field, says):
    response = agent_client.post(url("template_create"), template_data(**fields))

    assert response.status_code == 200
    assert says in " ".join(errors_of(response)[field])
    assert not MessageTemplate.objects.exists()


def test_a_template_is_changed_from_its_page(agent_client, sms_template):
    response = agent_client.post(
        url("template_update", sms_template.pk),
        template_data(name=sms_template.name, body="Hola {nombre_completo}"),
    )

    assert response.status_code == 302
    sms_template.refresh_from_db()
    assert sms_template.body == "Hola {nombre_completo}"


def test_the_form_offers_the_chosen_portfolios_variables_as_chips(agent_client):
    page = agent_client.get(url("template_create"))
    castigada = agent_client.get(
        url("template_variables"), {"portfolio": "castigada"}, headers=HTMX
    )

    assertContains(page, 'data-copy="{saldo}"')
    assertContains(castigada, 'data-copy="{nombre}"')
    assertNotContains(castigada, "{saldo}")


@pytest.mark.parametrize(
    ("body", "says"), [("a" * 160, "1 SMS"), ("a" * 161, "2 SMS"), ("á" * 71, "2 SMS")]
)
def test_the_counter_says_how_many_sms_the_text_takes(agent_client, body, says):
    response = agent_client.post(
        url("template_counter"), {"channel": "sms", "body": body}, headers=HTMX
    )

    assertContains(response, says)
    assertContains(response, f"{len(body)} de 918 caracteres")


def test_the_counter_warns_past_the_channels_limit(agent_client):
    response = agent_client.post(
        url("template_counter"), {"channel": "whatsapp", "body": "x" * 1100}, headers=HTMX
    )

    assertContains(response, "1,100 de 1,024 caracteres")
    assertContains(response, "text-danger")


def test_the_counter_warns_past_six_sms_within_the_characters(agent_client):
    """918 characters are six SMS without accents; 500 "á" travel in eight."""
    response = agent_client.post(
        url("template_counter"), {"channel": "sms", "body": "á" * 500}, headers=HTMX
    )

    assertContains(response, "500 de 918 caracteres · 8 SMS (máximo 6)")
    assertContains(response, "text-danger")


def preview(client, who, **fields):
    data = template_data(**fields)
    data["preview_customer"] = who
    return client.post(url("template_preview"), data, headers=HTMX)


def test_the_preview_writes_the_text_with_a_customers_data_found_by_document(
    agent_client, flow_debtor
):
    response = preview(agent_client, "70123456", body="Hola {nombre}, debe {cuota_vencida}.")

    assertTemplateUsed(response, "collections_app/strategies/partials/template_preview.html")
    assertContains(response, "Hola Julia, debe S/ 945.60.")
    assertContains(response, "Julia Mamani Ríos (70123456)")
    assert not MessageTemplate.objects.exists()


def test_the_preview_says_which_values_the_customer_lacks(agent_client):
    CustomerFactory(first_name="Pedro", last_name="Quispe", document_number="71111111")

    response = preview(agent_client, "71111111", body="Hola {nombre}, debe {cuota_vencida}.")

    assertContains(response, "Hola Pedro, debe .")
    assertContains(response, "Este cliente no tiene hoy {cuota_vencida}: el mensaje saldría")


def test_the_preview_of_a_text_too_long_says_so(agent_client, flow_debtor):
    response = preview(agent_client, "70123456", body="x" * 5000)

    assertContains(response, "El texto tiene más de 4000 caracteres: acórtelo.")
    assertNotContains(response, "Escriba la plantilla antes")


def test_the_preview_finds_a_customer_by_name(agent_client, flow_debtor):
    response = preview(agent_client, "julia mamani", body="Hola {nombre_completo}")

    assertContains(response, "Hola Julia Mamani Ríos")


def test_the_preview_says_when_no_customer_is_found(agent_client, flow_debtor):
    response = preview(agent_client, "99999999")

    assert response.status_code == 200
    assertContains(response, "No se encontró ningún cliente con «99999999».")


def test_the_preview_asks_for_a_document_when_several_customers_match(agent_client):
    for document in ("71111111", "72222222"):
        CustomerFactory(first_name="Pedro", last_name="Quispe", document_number=document)

    response = preview(agent_client, "pedro quispe")

    assertContains(response, "Varios clientes coinciden")
    assertContains(response, "71111111")


def test_the_preview_shows_what_is_wrong_with_the_text(agent_client, flow_debtor):
    response = preview(agent_client, "70123456", body="Hola {deuda}")

    assertContains(response, "Variable desconocida: {deuda}")


def test_the_preview_of_a_whatsapp_template_lists_its_parameters(agent_client, flow_debtor):
    response = preview(
        agent_client,
        "70123456",
        channel="whatsapp",
        whatsapp_name="aviso",
        body="{nombre} {monto_pago}",
    )

    assertContains(response, "«aviso» (es)")
    assertContains(response, "<li>Julia</li>")
    assertContains(response, "Quedan en blanco hasta que ocurra el evento: {monto_pago}")


def test_without_javascript_the_preview_shows_the_saved_template_on_a_page(
    agent_client, sms_template, flow_debtor
):
    response = agent_client.post(
        url("template_preview"), {"template": sms_template.pk, "preview_customer": "70123456"}
    )

    assertTemplateUsed(response, "collections_app/strategies/template_preview_page.html")
    assertContains(response, "Hola Julia, su cuota de S/ 945.60 vence el 10/06/2026.")


def test_a_template_nothing_sends_is_deleted_after_asking(agent_client, sms_template):
    asked = agent_client.get(url("template_delete", sms_template.pk))
    done = agent_client.post(url("template_delete", sms_template.pk), {"confirm": "yes"})

    assertContains(asked, "Sí, eliminar")
    assert done.status_code == 302
    assert not MessageTemplate.objects.exists()


def test_a_template_in_use_is_not_deleted_and_the_page_says_where(
    agent_client, sms_template, segment
):
    flow = Flow.objects.create(name="Mora temprana", segment=segment)
    FlowStep.objects.create(flow=flow, day_offset=-3, template=sms_template)

    refused = agent_client.post(url("template_delete", sms_template.pk), {"confirm": "yes"})

    assert refused.status_code == 409
    assertContains(refused, "«Mora temprana», día -3", status_code=409)
    assert MessageTemplate.objects.filter(pk=sms_template.pk).exists()


# --- Eventos ------------------------------------------------------------------------------


def settings_data(**chosen) -> dict:
    """The events form: every select empty and every switch off but `chosen`."""
    data = {}
    for portfolio in ("vigente", "castigada"):
        for event in EventSetting.Event.values:
            data[f"{portfolio}__{event}__template"] = ""
    data.update(chosen)
    return data


def test_the_events_page_has_a_section_per_portfolio_and_the_fixed_calendar(agent_client):
    response = agent_client.get(url("event_settings"))

    assertContains(response, "Cartera vigente")
    assertContains(response, "Cartera castigada")
    form = response.context["settings_form"]
    for portfolio in ("vigente", "castigada"):
        for event in ("promise", "to_verify", "rejected", "verified"):
            assertContains(response, f'name="{portfolio}__{event}__template"', count=1)
    assertContains(response, "Pago verificado total", count=4)  # a label and a switch's each
    assert len(form.sections()) == 2
    assertContains(response, "de -15 a +180 días")


def test_the_events_offer_each_portfolios_templates(agent_client, sms_template):
    castigada = make_template(name="Oferta castigada", portfolio="castigada", body="Hola {nombre}")

    form = agent_client.get(url("event_settings")).context["settings_form"]

    vigente_choices = dict(form.fields["vigente__promise__template"].choices)
    castigada_choices = dict(form.fields["castigada__promise__template"].choices)
    assert sms_template.pk in vigente_choices and castigada.pk not in vigente_choices
    assert castigada.pk in castigada_choices and sms_template.pk not in castigada_choices


def test_the_events_settings_are_saved(agent_client, sms_template):
    response = agent_client.post(
        url("event_settings"),
        settings_data(
            **{"vigente__promise__template": sms_template.pk, "vigente__promise__active": "on"}
        ),
    )

    assert response.status_code == 302
    setting = EventSetting.objects.get(portfolio="vigente", event="promise")
    assert (setting.template, setting.is_active) == (sms_template, True)
    assert EventSetting.objects.count() == 8
    assert EventSetting.objects.filter(is_active=True).count() == 1


def test_an_event_switched_on_without_a_template_is_refused(agent_client):
    response = agent_client.post(
        url("event_settings"), settings_data(**{"castigada__rejected__active": "on"})
    )

    assert response.status_code == 200
    assert errors_of(response, "settings_form")["castigada__rejected__template"] == [
        "Elija la plantilla que se envía, o desactive el evento."
    ]
    assert not EventSetting.objects.exists()


def test_a_template_of_the_other_portfolio_is_not_offered(agent_client, sms_template):
    response = agent_client.post(
        url("event_settings"),
        settings_data(
            **{"castigada__promise__template": sms_template.pk, "castigada__promise__active": "on"}
        ),
    )

    assert response.status_code == 200
    assert "castigada__promise__template" in errors_of(response, "settings_form")
    assert not EventSetting.objects.exists()


def test_the_message_policy_shows_below_the_events(agent_client):
    MessagePolicy.objects.update_or_create(
        pk=1, defaults={"quiet_start": datetime.time(20), "quiet_end": datetime.time(8)}
    )

    response = agent_client.get(url("event_settings"))

    assertContains(response, "Horario de silencio, días sin mensajes y límite diario")
    assertContains(response, 'value="20:00"')


def test_agents_see_the_policy_but_only_supervisors_change_it(client, cobranzas, supervisor):
    data = {"quiet_start": "21:00", "quiet_end": "07:30", "daily_limit": "2"}
    client.force_login(cobranzas)

    assert client.post(url("message_policy"), data).status_code == 403

    client.force_login(supervisor)
    response = client.post(url("message_policy"), data)

    assert response.status_code == 302
    policy = MessagePolicy.current()
    assert (policy.quiet_start, policy.quiet_end, policy.daily_limit) == (
        datetime.time(21, 0),
        datetime.time(7, 30),
        2,
    )


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (
            {"quiet_start": "20:00", "quiet_end": "20:00", "daily_limit": "3"},
            "quiet_end",
            "otra hora",
        ),
        (
            {"quiet_start": "20:00", "quiet_end": "08:00", "daily_limit": "0"},
            "daily_limit",
            "al menos 1",
        ),
        (
            {"quiet_start": "20:00", "quiet_end": "08:00", "daily_limit": "51"},
            "daily_limit",
            "como máximo 50",
        ),
        (
            {"quiet_start": "25:00", "quiet_end": "08:00", "daily_limit": "3"},
            "quiet_start",
            "como 20:00",
        ),
    ],
)
def test_the_message_policy_refuses_bounds_with_a_clear_message(
    client, supervisor, data, field, says
):
    client.force_login(supervisor)
    before = MessagePolicy.current()

    response = client.post(url("message_policy"), data)

    assert response.status_code == 200
    assert says in " ".join(errors_of(response, "policy_form")[field])
    policy = MessagePolicy.current()
    assert (policy.quiet_start, policy.daily_limit) == (before.quiet_start, before.daily_limit)


# --- On a phone ---------------------------------------------------------------------------


def test_no_strategies_screen_scrolls_sideways_on_a_phone(page, live_server, roles):
    """Segmentación, Plantillas and Eventos at 375 px: the page is as wide as the screen."""
    agent = UserFactory(username="cobranzas", role="Cobranzas")
    segment = segments.save_segment(
        data={"name": "Atraso temprano", "min_days_past_due": 1, "max_days_past_due": 30},
        actor=agent,
    )
    template = make_template(body="Hola {nombre}, " + "su saldo es {saldo}. " * 10)
    Flow.objects.create(name="Mora temprana", segment=segment)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "cobranzas")

    wide = []
    for path in [
        url("segment_list"),
        url("segment_create"),
        url("segment_update", segment.pk),
        url("segment_delete", segment.pk),
        url("template_list"),
        url("template_create"),
        url("template_update", template.pk),
        url("template_delete", template.pk),
        url("event_settings"),
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        try:
            assert_no_sideways_scroll(page)
        except AssertionError as exc:
            wide.append(str(exc))

    assert wide == [], "\n".join(wide)
