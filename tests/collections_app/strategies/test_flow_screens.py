"""The Flujos screens: the list, the editor with its steps, a flow's page and its actions,
each behind its permission, the destructive ones behind a confirmation."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app.models import Flow, FlowRun, FlowStep
from collections_app.strategies import flows
from collections_app.strategies import tasks as strategy_tasks  # noqa: F401 (registers the tasks)
from crm.models import Message
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

HTMX = {"HX-Request": "true"}
LIST = reverse("collections_app:flow_list")
CREATE = reverse("collections_app:flow_create")


@pytest.fixture
def all_debtors(db):
    return whole_portfolio()


@pytest.fixture
def sms(db):
    return make_template(name="Aviso SMS", body="Hola {nombre}, vence el {fecha_vencimiento}.")


@pytest.fixture
def whatsapp(db):
    return make_template(
        name="Aviso WhatsApp",
        channel="whatsapp",
        body="Hola {nombre}",
        whatsapp_name="aviso_pago",
    )


@pytest.fixture
def flow(all_debtors, sms, whatsapp):
    return make_flow(all_debtors, [(-3, sms), (0, whatsapp), (5, sms)], name="Recordatorios")


@pytest.fixture
def agent(client, cobranzas):
    client.force_login(cobranzas)
    return cobranzas


def url(name: str, flow: Flow) -> str:
    return reverse(f"collections_app:{name}", args=[flow.pk])


def flow_post(segment, steps, *, name="Mora temprana", existing=(), **extra) -> dict:
    """The editor's POST: the flow's fields and its steps' formset (`existing` rows first)."""
    data = {
        "name": name,
        "description": "",
        "segment": segment.pk,
        "steps-TOTAL_FORMS": len(existing) + len(steps),
        "steps-INITIAL_FORMS": len(existing),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    rows = [*existing, *[(None, day, template, False) for day, template in steps]]
    for index, (step, day, template, delete) in enumerate(rows):
        data[f"steps-{index}-day_offset"] = day
        data[f"steps-{index}-template"] = template.pk if template else ""
        if step is not None:
            data[f"steps-{index}-id"] = step.pk
        if delete:
            data[f"steps-{index}-DELETE"] = "on"
    return {**data, **extra}


# --- Who may see them ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["flow_detail", "flow_update", "flow_set_active", "flow_run", "flow_delete"]
)
def test_people_without_the_role_get_403(client, outsider, flow, name):
    client.force_login(outsider)

    if name in ("flow_set_active", "flow_run", "flow_delete"):
        response = client.post(url(name, flow), {"active": "1", "confirm": "yes"})
    else:
        response = client.get(url(name, flow))

    assert response.status_code == 403


def test_the_list_and_the_editor_are_for_collections_staff(client, outsider):
    client.force_login(outsider)

    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403


def test_a_visitor_is_sent_to_sign_in(client, flow):
    response = client.get(LIST)

    assert response.status_code == 302
    assert "/login" in response["Location"] or "next=" in response["Location"]


# --- The list --------------------------------------------------------------------------------


def test_the_list_shows_each_flow_with_its_segment_steps_and_last_run(agent, client, flow):
    debtor_due(0)
    flows.run_flows(TODAY)

    response = client.get(LIST)

    assertContains(response, "Recordatorios")
    assertContains(response, "Toda la cartera vigente")
    assertContains(response, "−3 SMS")
    assertContains(response, "0 WhatsApp")
    assertContains(response, "+5 SMS")
    assertContains(response, "1 seleccionado, 1 en cola, 0 omitidos")
    assertContains(response, 'id="strategy-tabs"')


def test_the_list_searches_and_filters_by_state(agent, client, flow, all_debtors, sms):
    make_flow(all_debtors, [(1, sms)], name="Castigo suave", is_active=False)

    found = client.get(LIST, {"q": "recordat"})
    inactive = client.get(LIST, {"status": "inactive"})

    assert [f.name for f, _chips, _last in found.context["items"]] == ["Recordatorios"]
    assert [f.name for f, _chips, _last in inactive.context["items"]] == ["Castigo suave"]


def test_the_list_answers_htmx_with_its_results_only(agent, client, flow):
    response = client.get(LIST, {"q": "record"}, headers=HTMX)

    assertTemplateUsed(response, "collections_app/strategies/partials/flow_results.html")
    assertNotContains(response, 'id="flow-filters"')
    assertContains(response, 'id="flow-results"')


def test_the_list_costs_the_same_queries_for_more_flows(
    agent, client, flow, all_debtors, sms, django_assert_max_num_queries
):
    flows.run_flows(TODAY)
    client.get(LIST)  # warms the session and the caches
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    for index in range(6):
        make_flow(all_debtors, [(index + 1, sms), (index + 10, sms)], name=f"Flujo {index}")
    flows.run_flows(TODAY)

    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(LIST)


def test_a_bad_search_says_so(agent, client, flow):
    response = client.get(LIST, {"q": "x" * 101})

    assert response.status_code == 200
    assertContains(response, "Escriba como máximo 100 caracteres para buscar.")


# --- The editor ------------------------------------------------------------------------------


def test_a_flow_is_created_inactive_with_its_steps(agent, client, all_debtors, sms, whatsapp):
    response = client.post(CREATE, flow_post(all_debtors, [(-3, sms), (0, whatsapp), (15, sms)]))

    flow = Flow.objects.get(name="Mora temprana")
    assert response.status_code == 302
    assert response["Location"] == url("flow_detail", flow)
    assert not flow.is_active
    assert flow.created_by == agent
    assert [(s.day_offset, s.template) for s in flow.steps.order_by("day_offset")] == [
        (-3, sms),
        (0, whatsapp),
        (15, sms),
    ]


def test_the_editor_offers_the_templates_with_their_channel(agent, client, sms, whatsapp):
    response = client.get(CREATE)

    assertContains(response, "Aviso SMS · SMS")
    assertContains(response, "Aviso WhatsApp · WhatsApp")
    assertContains(response, "Calendario fijo: de −15 (antes) a +180 (después).")


@pytest.mark.parametrize("day", [-16, 181])
def test_a_day_off_the_fixed_calendar_is_refused(agent, client, all_debtors, sms, day):
    response = client.post(CREATE, flow_post(all_debtors, [(day, sms)]))

    assert response.status_code == 200
    assertContains(response, "El calendario es fijo: el día va de −15 a +180.")
    assert not Flow.objects.exists()


def test_the_calendar_ends_are_accepted(agent, client, all_debtors, sms):
    client.post(CREATE, flow_post(all_debtors, [(-15, sms), (180, sms)]))

    flow = Flow.objects.get()
    assert sorted(flow.steps.values_list("day_offset", flat=True)) == [-15, 180]


def test_two_equal_steps_are_refused(agent, client, all_debtors, sms):
    response = client.post(CREATE, flow_post(all_debtors, [(0, sms), (0, sms)]))

    assert response.status_code == 200
    assertContains(response, "Hay dos pasos el mismo día con la misma plantilla")
    assert not Flow.objects.exists()


def test_a_flow_without_steps_is_refused(agent, client, all_debtors):
    response = client.post(CREATE, flow_post(all_debtors, []))

    assertContains(response, "Agregue al menos un paso")
    assert not Flow.objects.exists()


def test_a_written_off_template_is_not_offered(agent, client, all_debtors):
    written_off = make_template(
        name="Oferta castigada", portfolio="castigada", body="Hola {nombre}"
    )

    response = client.post(CREATE, flow_post(all_debtors, [(0, written_off)]))

    assertContains(response, "Elija una plantilla activa de cartera vigente.")


def test_more_steps_than_a_flow_takes_are_refused_in_words(agent, client, all_debtors, sms):
    response = client.post(CREATE, flow_post(all_debtors, [(day, sms) for day in range(31)]))

    assertContains(response, "Un flujo tiene como máximo 30 pasos.")
    assertNotContains(response, "formularios")
    assert not Flow.objects.exists()


def test_a_post_without_the_steps_management_fields_says_so_in_words(
    agent, client, all_debtors, sms
):
    data = flow_post(all_debtors, [(0, sms)])
    del data["steps-TOTAL_FORMS"], data["steps-INITIAL_FORMS"]

    response = client.post(CREATE, data)

    assertContains(response, "Los pasos llegaron incompletos")
    assertNotContains(response, "Campo oculto")
    assert not Flow.objects.exists()


def test_a_description_of_a_document_is_refused(agent, client, all_debtors, sms):
    response = client.post(CREATE, flow_post(all_debtors, [(0, sms)], description="d" * 5000))

    assertContains(response, "Escriba una descripción de hasta 500 caracteres.")
    assert not Flow.objects.exists()


def test_a_duplicate_name_is_refused_in_spanish(agent, client, flow, all_debtors, sms):
    response = client.post(CREATE, flow_post(all_debtors, [(1, sms)], name="Recordatorios"))

    assertContains(response, "Ya existe un flujo con ese nombre.")


def test_editing_changes_adds_and_removes_steps(agent, client, flow, all_debtors, sms, whatsapp):
    minus_three, zero, plus_five = flow.steps.order_by("day_offset")
    existing = [
        (minus_three, -2, sms, False),  # moved a day
        (zero, 0, whatsapp, False),
        (plus_five, 5, sms, True),  # removed
    ]

    response = client.post(
        url("flow_update", flow),
        flow_post(all_debtors, [(30, sms)], name="Recordatorios", existing=existing),
    )

    assert response.status_code == 302
    assert sorted(flow.steps.values_list("pk", "day_offset")) == sorted(
        [(minus_three.pk, -2), (zero.pk, 0), (flow.steps.get(day_offset=30).pk, 30)]
    )
    assert not FlowStep.objects.filter(pk=plus_five.pk).exists()


def test_two_steps_may_swap_days(agent, client, flow, all_debtors, sms, whatsapp):
    minus_three, zero, plus_five = flow.steps.order_by("day_offset")
    existing = [
        (minus_three, 5, sms, False),
        (zero, 0, whatsapp, False),
        (plus_five, -3, sms, False),
    ]

    response = client.post(
        url("flow_update", flow),
        flow_post(all_debtors, [], name="Recordatorios", existing=existing),
    )

    assert response.status_code == 302
    assert FlowStep.objects.get(pk=minus_three.pk).day_offset == 5
    assert FlowStep.objects.get(pk=plus_five.pk).day_offset == -3


def edit_after_todays_run(client, flow, all_debtors, rows):
    """Run today's flows (only the +5 step finds a debtor), then send the editor the rows
    `rows(minus_three, zero, plus_five)` returns; return the steps and the answer."""
    debtor_due(-5)
    flows.run_flows(TODAY)
    steps = list(flow.steps.order_by("day_offset"))
    response = client.post(
        url("flow_update", flow),
        flow_post(all_debtors, [], name="Recordatorios", existing=rows(*steps)),
    )
    return steps, response


@pytest.mark.parametrize("change", ["day", "template"])
def test_a_step_that_ran_keeps_its_day_and_template(
    agent, client, flow, all_debtors, sms, whatsapp, change
):
    # Moved from +5 to +6 after it ran, its messages read as "día +6" in the effectiveness
    # report, and +6's debtors of the day would be skipped (the step's run of today is done).
    (_m, _z, plus_five), response = edit_after_todays_run(
        client,
        flow,
        all_debtors,
        lambda minus_three, zero, plus_five: [
            (minus_three, -3, sms, False),
            (zero, 0, whatsapp, False),
            (plus_five, 6, sms, False) if change == "day" else (plus_five, 5, whatsapp, False),
        ],
    )

    assert response.status_code == 200
    assertContains(response, "El paso del día +5 ya se ejecutó: su día y su plantilla no cambian")
    plus_five.refresh_from_db()
    assert (plus_five.day_offset, plus_five.template) == (5, sms)


def test_a_step_that_never_ran_may_still_change_in_a_flow_that_ran(
    agent, client, flow, all_debtors, sms, whatsapp
):
    (minus_three, _z, _p), response = edit_after_todays_run(
        client,
        flow,
        all_debtors,
        lambda minus_three, zero, plus_five: [
            (minus_three, -4, sms, False),
            (zero, 0, whatsapp, False),
            (plus_five, 5, sms, False),
        ],
    )

    assert response.status_code == 302
    minus_three.refresh_from_db()
    assert minus_three.day_offset == -4


def test_a_step_that_ran_cannot_be_removed(agent, client, flow, all_debtors, sms, whatsapp):
    (_m, _z, plus_five), response = edit_after_todays_run(
        client,
        flow,
        all_debtors,
        lambda minus_three, zero, plus_five: [
            (minus_three, -3, sms, False),
            (zero, 0, whatsapp, False),
            (plus_five, 5, sms, True),
        ],
    )

    assert response.status_code == 200
    assertContains(response, "No se puede quitar el paso del día +5: ya se ejecutó")
    assert FlowStep.objects.filter(pk=plus_five.pk).exists()


# --- A flow's page and its actions -----------------------------------------------------------


def test_the_flow_page_shows_its_steps_and_run_history(agent, client, flow):
    debtor_due(3)
    flows.run_flows(TODAY)

    response = client.get(url("flow_detail", flow))

    assertContains(response, "Aviso WhatsApp")
    assertContains(response, "Historial de ejecuciones")
    assertContains(response, "1 seleccionado · 1 en cola")
    assert len(response.context["runs"]) == 3


def test_the_run_history_pages_with_htmx(agent, client, flow):
    for step in flow.steps.all():
        for day in range(10):
            FlowRun.objects.create(step=step, run_on=TODAY.replace(day=day + 1), status="done")

    response = client.get(url("flow_detail", flow), {"page": 2}, headers=HTMX)

    assertTemplateUsed(response, "collections_app/strategies/partials/flow_runs.html")
    assert len(response.context["runs"]) == 5  # 30 runs, 25 a page


def test_activating_asks_for_confirmation_first(agent, client, all_debtors, sms):
    flow = make_flow(all_debtors, [(0, sms)], is_active=False)
    debtor_due(0)

    asked = client.post(url("flow_set_active", flow), {"active": "1"})

    assertTemplateUsed(asked, "collections_app/confirm.html")
    assertContains(asked, "Hoy el segmento tiene 1 cliente.")
    flow.refresh_from_db()
    assert not flow.is_active

    client.post(url("flow_set_active", flow), {"active": "1", "confirm": "yes"})

    flow.refresh_from_db()
    assert flow.is_active


def test_a_flow_whose_template_was_switched_off_is_not_activated(agent, client, all_debtors, sms):
    """A step sends its template active or not: switched off while the flow was inactive,
    it would go out every morning once the flow is turned on."""
    flow = make_flow(all_debtors, [(0, sms)], is_active=False)
    sms.is_active = False
    sms.save()

    response = client.post(
        url("flow_set_active", flow), {"active": "1", "confirm": "yes"}, follow=True
    )

    assertContains(response, "la plantilla «Aviso SMS» no lo es: actívela o elija otra")
    flow.refresh_from_db()
    assert not flow.is_active


def test_an_active_flow_is_not_saved_with_a_switched_off_template(
    agent, client, flow, all_debtors, sms, whatsapp
):
    Flow.objects.filter(pk=flow.pk).update(is_active=False)
    whatsapp.is_active = False
    whatsapp.save()
    Flow.objects.filter(pk=flow.pk).update(is_active=True)
    steps = list(flow.steps.order_by("day_offset"))
    existing = [(step, step.day_offset, step.template, False) for step in steps]

    response = client.post(
        url("flow_update", flow), flow_post(all_debtors, [], name=flow.name, existing=existing)
    )

    assertContains(response, "la plantilla «Aviso WhatsApp» no lo es")


def test_deactivating_a_flow_after_confirming(agent, client, flow):
    response = client.post(url("flow_set_active", flow), {"active": "0", "confirm": "yes"})

    assert response.status_code == 302
    flow.refresh_from_db()
    assert not flow.is_active


def test_deactivating_during_todays_run_says_the_run_finishes(agent, client, flow):
    """The batches of a run under way still go: "no more messages" would not be true."""
    FlowRun.objects.create(step=flow.steps.first(), run_on=TODAY)

    asked = client.post(url("flow_set_active", flow), {"active": "0"})
    done = client.post(url("flow_set_active", flow), {"active": "0", "confirm": "yes"}, follow=True)

    assertContains(asked, "La ejecución de hoy ya está en curso y termina de enviar")
    assertContains(done, "Flujo desactivado. La ejecución de hoy ya está en curso")
    assertNotContains(done, "no enviará más mensajes")


def test_a_bad_state_is_refused_without_a_500(agent, client, flow):
    response = client.post(url("flow_set_active", flow), {"active": "maybe"}, follow=True)

    assertContains(response, "Elija activar o desactivar el flujo.")


def test_run_today_asks_then_queues_the_run_and_says_so(
    agent, client, flow, django_capture_on_commit_callbacks
):
    debtor_due(0)

    asked = client.post(url("flow_run", flow))
    assertTemplateUsed(asked, "collections_app/confirm.html")
    assert not FlowRun.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("flow_run", flow), {"confirm": "yes"}, follow=True)

    assertContains(response, "Ejecución de hoy en cola")
    assertNotContains(response, "enviado")
    assert FlowRun.objects.filter(step__flow=flow).count() == 3
    assert Message.objects.filter(origin=flows.ORIGIN).count() == 1


def test_an_inactive_flow_is_not_run(agent, client, all_debtors, sms):
    flow = make_flow(all_debtors, [(0, sms)], is_active=False)

    response = client.post(url("flow_run", flow), {"confirm": "yes"}, follow=True)

    assertContains(response, "Active el flujo antes de ejecutarlo.")
    assert not FlowRun.objects.exists()


def test_deleting_asks_then_deletes_the_flow_and_its_history(agent, client, flow):
    debtor_due(0)
    flows.run_flows(TODAY)

    asked = client.post(url("flow_delete", flow))
    assertContains(asked, "Se eliminarán: 3 pasos y el historial de 3 ejecuciones.")
    assert Flow.objects.filter(pk=flow.pk).exists()

    response = client.post(url("flow_delete", flow), {"confirm": "yes"})

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert not Flow.objects.filter(pk=flow.pk).exists()
    assert Message.objects.filter(origin=flows.ORIGIN).count() == 1  # what was sent stays


def test_an_advisor_has_no_flows(client, asesor, flow):
    client.force_login(asesor)

    assert client.get(LIST).status_code == 403
    assert client.post(url("flow_delete", flow), {"confirm": "yes"}).status_code == 403
    assert Flow.objects.filter(pk=flow.pk).exists()


def test_a_supervisor_works_the_flows_too(client, supervisor, flow):
    client.force_login(supervisor)

    page = client.get(url("flow_detail", flow))

    assertContains(page, url("flow_delete", flow))
    assertContains(page, "Ejecutar hoy")
