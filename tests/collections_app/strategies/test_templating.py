"""Message templates: what a template may say (checked when it is saved, from any path) and
how it is written for each recipient."""

import pytest
from django.core.exceptions import ValidationError

from collections_app.models import EventSetting, Flow, FlowStep, MessageTemplate
from collections_app.strategies import templating, variables
from crm import messages as customer_messages
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import FLOW_DUE_DATE, make_template


def refused(**fields) -> dict[str, list[str]]:
    """Return the errors saving a template with these fields raises, by field."""
    with pytest.raises(ValidationError) as caught:
        make_template(**fields)
    return caught.value.message_dict


# --- Placeholders -------------------------------------------------------------------------


def test_placeholders_are_the_variables_in_order_of_first_appearance():
    text = "Hola {nombre}: {saldo} al {fecha_vencimiento}. {nombre}, pague {saldo}."

    assert templating.placeholders(text) == ["nombre", "saldo", "fecha_vencimiento"]


def test_doubled_braces_are_literal_braces():
    parsed = templating.parse("{{nombre}} es {nombre} }}{{")

    assert parsed.names == ["nombre"]
    assert parsed.format({"nombre": "Rosa"}) == "{nombre} es Rosa }{"
    assert parsed.errors == ()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("Hola {nombre", "«{» sin cerrar"),
        ("Hola nombre}", "«}» sin abrir"),
        ("Hola {nombre completo}", "no es una variable"),
        ("Hola {}", "no es una variable"),
    ],
)
def test_braces_that_do_not_pair_are_refused_when_saved(db, body, says):
    errors = refused(body=body)

    assert any(says in error for error in errors["body"])


# --- Validation when saved ----------------------------------------------------------------


def test_a_valid_template_is_saved(db):
    template = make_template(body="Hola {nombre}, debe {cuota_vencida}. Pague con {codigo_pago}.")

    assert MessageTemplate.objects.get(pk=template.pk).body.startswith("Hola {nombre}")


def test_an_unknown_variable_is_refused_when_saved_naming_those_available(db):
    errors = refused(body="Hola {nombre}, su deuda es {deuda_total}.")

    (error,) = errors["body"]
    assert error.startswith("Variable desconocida: {deuda_total}. Disponibles: ")
    assert "{nombre}" in error
    assert "{saldo}" in error
    assert not MessageTemplate.objects.exists()


def test_a_written_off_variable_is_refused_in_a_current_portfolio_template(castigada_variables):
    errors = refused(body="Pague {monto_campana}.")

    assert errors["body"] == [
        "La variable {monto_campana} es solo para plantillas de cartera castigada."
    ]


def test_a_written_off_template_says_its_own_variables(castigada_variables):
    template = make_template(portfolio="castigada", body="{nombre}: pague {monto_campana}.")

    assert template.portfolio == "castigada"


def test_a_current_portfolio_variable_is_refused_in_a_written_off_template(db):
    errors = refused(portfolio="castigada", body="Su saldo es {saldo}.")

    assert errors["body"] == ["La variable {saldo} es solo para plantillas de cartera vigente."]


@pytest.mark.parametrize(
    ("channel", "limit", "extra"),
    [
        ("sms", 918, {}),
        ("whatsapp", 1024, {"whatsapp_name": "aviso"}),
        ("email", 4000, {"subject": "Aviso"}),
    ],
)
def test_a_body_longer_than_its_channel_takes_is_refused(db, channel, limit, extra):
    make_template(name="Justo", channel=channel, body="x" * limit, **extra)

    errors = refused(name="Largo", channel=channel, body="x" * (limit + 1), **extra)

    (error,) = errors["body"]
    # Grouped as the counter beside the text writes it: «1,024».
    assert f"hasta {limit:,}" in error


def test_an_sms_says_how_many_messages_the_limit_is(db):
    errors = refused(body="x" * 919)

    assert errors["body"] == [
        "El texto tiene 919 caracteres; un SMS admite hasta 918 (6 mensajes)."
    ]


@pytest.mark.parametrize(
    ("body", "parts"),
    [("á" * 900, 14), ("😀" * 450, 14), ("€" * 600, 8)],
    ids=["accents", "emoji", "doubled-signs"],
)
def test_an_sms_that_fits_the_characters_but_not_six_messages_is_refused(db, body, parts):
    """900 "á" are under 918 characters, but each SMS carries 67 of them: 14 messages."""
    errors = refused(body=body)

    (error,) = errors["body"]
    assert error.startswith(f"El texto ocupa {parts} SMS; se admiten hasta 6.")


def test_an_sms_of_six_messages_with_accents_is_saved(db):
    template = make_template(body="á" * 6 * 67)

    assert templating.sms_parts(template.body) == 6


def test_an_email_needs_a_subject(db):
    errors = refused(channel="email", subject=" ", body="Hola {nombre}")

    assert errors["subject"] == ["Indique el asunto del correo."]


def test_an_emails_subject_is_checked_like_its_body(db):
    errors = refused(channel="email", subject="Aviso {cliente}", body="Hola")

    assert errors["subject"][0].startswith("Variable desconocida: {cliente}.")


def test_a_whatsapp_template_needs_the_name_meta_approved_it_under(db):
    errors = refused(channel="whatsapp", whatsapp_name="")

    assert errors["whatsapp_name"] == ["Indique el nombre con que WhatsApp aprobó la plantilla."]


def test_a_whatsapp_template_name_is_written_as_meta_writes_it(db):
    errors = refused(channel="whatsapp", whatsapp_name="Recordatorio de pago")

    assert "minúsculas" in errors["whatsapp_name"][0]


def test_a_template_without_text_is_refused(db):
    errors = refused(body="   ")

    assert "body" in errors


def test_two_templates_may_not_share_a_name(sms_template):
    errors = refused(name=sms_template.name)

    assert "name" in errors


def test_the_admin_path_refuses_as_the_screen_does(db):
    """validate_template is what any other path (admin, an import) calls before saving."""
    template = MessageTemplate(
        name="Directa", channel="sms", portfolio="vigente", body="Hola {desconocida}"
    )

    with pytest.raises(ValidationError) as caught:
        templating.validate_template(template)

    assert "body" in caught.value.message_dict


def test_a_templates_portfolio_stays_while_its_portfolios_events_send_it(sms_template):
    EventSetting.objects.create(portfolio="vigente", event="promise", template=sms_template)

    with pytest.raises(ValidationError) as caught:
        templating.save_template(
            data={"portfolio": "castigada", "body": "Hola {nombre}"}, template=sms_template
        )

    assert "portfolio" in caught.value.message_dict
    assert MessageTemplate.objects.get(pk=sms_template.pk).portfolio == "vigente"


def test_a_template_a_flow_sends_stays_in_the_current_portfolio(sms_template, segment):
    """Flows reach only current debtors: moved to the written-off portfolio, a flow would
    send it to them with the other portfolio's variables."""
    flow = Flow.objects.create(name="Mora temprana", segment=segment)
    FlowStep.objects.create(flow=flow, day_offset=5, template=sms_template)

    with pytest.raises(ValidationError) as caught:
        templating.save_template(
            data={"portfolio": "castigada", "body": "Hola {nombre}"}, template=sms_template
        )

    (error,) = caught.value.message_dict["portfolio"]
    assert error.startswith("La envían los flujos «Mora temprana», que solo envían plantillas")
    assert MessageTemplate.objects.get(pk=sms_template.pk).portfolio == "vigente"


def test_a_template_an_active_event_sends_is_not_switched_off(sms_template):
    """Switched off, the event would send nothing while the events screen says "Activo"."""
    EventSetting.objects.create(portfolio="vigente", event="promise", template=sms_template)

    with pytest.raises(ValidationError) as caught:
        templating.save_template(data={"is_active": False}, template=sms_template)
    EventSetting.objects.update(is_active=False)
    templating.save_template(data={"is_active": False}, template=sms_template)

    assert caught.value.message_dict["is_active"] == [
        "La envían los eventos «Cartera vigente: Compromiso de pago»: elija allí otra plantilla "
        "o desactive esos eventos antes."
    ]
    sms_template.refresh_from_db()
    assert not sms_template.is_active


# --- Deleting -----------------------------------------------------------------------------


def test_a_template_nothing_sends_is_deleted(sms_template):
    templating.delete_template(template=sms_template)

    assert not MessageTemplate.objects.exists()


def test_a_template_a_flow_step_or_an_event_sends_is_not_deleted(sms_template, segment):
    flow = Flow.objects.create(name="Mora temprana", segment=segment)
    FlowStep.objects.create(flow=flow, day_offset=5, template=sms_template)
    EventSetting.objects.create(portfolio="vigente", event="promise", template=sms_template)

    with pytest.raises(ValidationError) as caught:
        templating.delete_template(template=sms_template)

    (message,) = caught.value.messages
    assert "«Mora temprana», día +5" in message
    assert "Compromiso de pago" in message
    assert MessageTemplate.objects.filter(pk=sms_template.pk).exists()


def test_a_template_an_active_flow_sends_is_not_switched_off(sms_template, segment):
    """A flow's step sends its template active or not: switched off, it still went out."""
    flow = Flow.objects.create(name="Mora temprana", segment=segment, is_active=True)
    FlowStep.objects.create(flow=flow, day_offset=5, template=sms_template)

    with pytest.raises(ValidationError) as caught:
        templating.save_template(data={"is_active": False}, template=sms_template)
    Flow.objects.filter(pk=flow.pk).update(is_active=False)
    templating.save_template(data={"is_active": False}, template=sms_template)

    assert caught.value.message_dict["is_active"] == [
        "La envían los flujos activos «Mora temprana»: elija otra plantilla en sus pasos o "
        "desactive esos flujos antes."
    ]
    sms_template.refresh_from_db()
    assert not sms_template.is_active


# --- Rendering ----------------------------------------------------------------------------


def test_rendering_writes_the_values_and_leaves_a_missing_one_blank(sms_template):
    rendered = templating.render(sms_template, {"nombre": "Rosa", "cuota": "S/ 945.60"})

    assert rendered.body == "Hola Rosa, su cuota de S/ 945.60 vence el ."
    assert rendered.subject == ""
    assert rendered.whatsapp is None


def test_a_message_is_written_with_the_recipients_data(sms_template, flow_debtor):
    loan = flow_debtor.loans.get()
    recipient = variables.Recipient(flow_debtor, receivable_id=loan.pk, due_date=FLOW_DUE_DATE)

    (rendered,) = templating.render_for(sms_template, [recipient], TODAY)

    assert rendered.body == "Hola Julia, su cuota de S/ 945.60 vence el 10/06/2026."


def test_an_email_gets_its_subject_written_too(email_template, flow_debtor):
    (rendered,) = templating.render_for(email_template, [variables.Recipient(flow_debtor)], TODAY)

    assert rendered.subject == "Su cuota vence el 10/06/2026"
    assert rendered.body.startswith("Hola Julia Mamani Ríos:\n\nSu saldo es S/ ")
    assert "código de pago L900000001" in rendered.body


def test_a_whatsapp_message_carries_the_approved_template_and_its_parameters(
    whatsapp_template, flow_debtor, settings
):
    settings.SITE_URL = "https://cartera.example.com"

    (rendered,) = templating.render_for(
        whatsapp_template, [variables.Recipient(flow_debtor)], TODAY
    )

    assert rendered.whatsapp == customer_messages.WhatsAppTemplate(
        name="recordatorio_pago",
        language="es",
        parameters=("Julia", "S/ 945.60", "10/06/2026", "https://cartera.example.com/portal/"),
    )


def test_a_whatsapp_parameter_without_a_value_is_sent_as_a_dash(db):
    template = make_template(
        channel="whatsapp", whatsapp_name="aviso_pago", body="Pago de {monto_pago} recibido"
    )

    rendered = templating.render(template, {})

    assert rendered.whatsapp.parameters == ("-",)


def test_a_whatsapp_parameter_is_sent_on_one_line(db):
    """Meta refuses a parameter with a new line, a tab or more than four spaces in a row."""
    template = make_template(
        channel="whatsapp", whatsapp_name="pago_rechazado", body="Rechazado: {motivo}"
    )

    rendered = templating.render(template, {"motivo": "No coincide\n\tel monto      ni la fecha"})

    assert rendered.whatsapp.parameters == ("No coincide el monto ni la fecha",)


def test_rendering_many_recipients_reads_the_values_once(
    sms_template, make_active_loan, django_assert_num_queries
):
    loans = [make_active_loan(payment_code=f"L3000000{n:02d}") for n in range(6)]
    recipients = [variables.Recipient(loan.customer, receivable_id=loan.pk) for loan in loans]

    with django_assert_num_queries(2):
        rendered = templating.render_for(sms_template, recipients, TODAY)

    assert [r.body.split(",")[0] for r in rendered] == [
        f"Hola {loan.customer.first_name}" for loan in loans
    ]


@pytest.mark.parametrize(
    ("text", "parts"),
    [("", 0), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("á" * 70, 1), ("á" * 71, 2)],
)
def test_an_sms_is_counted_in_the_parts_it_travels_in(text, parts):
    assert templating.sms_parts(text) == parts
