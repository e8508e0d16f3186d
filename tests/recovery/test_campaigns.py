"""Written-off campaigns: their figures and checks, one active per customer, their status
over time, the `Cartera castigada` tag, and payments that settle the campaign, never the loan.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from collections_app import receivables
from collections_app import services as collection_services
from collections_app.models import EventSetting, Origin, ReportedPayment
from collections_app.strategies import events, flows, segments, templating, variables
from credits import selectors as credit_selectors
from credits.models import Loan, Payment
from crm.models import Interaction, Message
from recovery import services, tasks
from recovery.models import Campaign, CampaignPayment
from tests import receipts
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio
from tests.factories import CustomerFactory
from tests.recovery.conftest import CAMPAIGN_AMOUNT, DEBT, ENDS_ON, TODAY, at, make_campaign

PNG = receipts.PNG


def tags_of(customer) -> list[str]:
    return list(customer.tags.values_list("name", flat=True))


# --- Figures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "discount", "amount"),
    [
        ("percent", Decimal("40"), Decimal("4800.00"), Decimal("7200.00")),
        ("percent", Decimal("33.333"), Decimal("3999.96"), Decimal("8000.04")),
        ("amount", Decimal("2500.50"), Decimal("2500.50"), Decimal("9499.50")),
        ("percent", Decimal("0"), Decimal("0.00"), DEBT),
    ],
)
def test_the_campaign_amount_is_the_debt_less_the_discount(db, kind, value, discount, amount):
    figures, problems = services.campaign_figures(
        debt_amount=DEBT, discount_type=kind, discount_value=value
    )
    assert problems == []
    assert (figures.discount_amount, figures.amount) == (discount, amount)


@pytest.mark.parametrize(
    ("debt", "kind", "value", "message"),
    [
        (DEBT, "amount", DEBT, "El descuento (12,000.00) debe ser menor que la deuda (12,000.00)."),
        (DEBT, "amount", Decimal("13000"), "debe ser menor que la deuda"),
        (DEBT, "percent", Decimal("100"), "El descuento debe ser menor que el 100 %."),
        (DEBT, "percent", Decimal("-5"), "El valor del descuento no puede ser negativo."),
        (Decimal("-1"), "amount", Decimal("0"), "debe ser mayor que cero"),
        (Decimal("0"), "amount", Decimal("0"), "debe ser mayor que cero"),
        (Decimal("120000000000"), "amount", Decimal("0"), "no puede pasar de 99,999,999.99"),
        # Rounded to the cent, the discount would take the whole debt: a 0.00 campaign.
        (Decimal("0.01"), "percent", Decimal("50"), "la campaña quedaría en 0.00"),
        (Decimal("0.01"), "percent", Decimal("90"), "la deuda de 0.01 es demasiado pequeña"),
        (DEBT, "gift", Decimal("1"), "«Porcentaje» o «Monto»"),
    ],
)
def test_figures_refuse_what_is_no_offer(db, debt, kind, value, message):
    figures, problems = services.campaign_figures(
        debt_amount=debt, discount_type=kind, discount_value=value
    )
    assert figures is None
    assert any(message in problem for problem in problems), problems


# --- Making one ----------------------------------------------------------------------------


def test_a_campaign_tags_its_customer_and_goes_on_the_timeline(campaign, debtor, written_off):
    assert campaign.status == Campaign.Status.ACTIVE
    assert (campaign.debt_amount, campaign.amount, campaign.balance) == (
        DEBT,
        CAMPAIGN_AMOUNT,
        CAMPAIGN_AMOUNT,
    )
    assert campaign.discount_percent == Decimal("40.00")
    assert campaign.currency == written_off.currency
    assert tags_of(debtor) == ["Cartera castigada"]
    entry = Interaction.objects.filter(
        customer=debtor, payload__recovery_campaign=campaign.pk
    ).get()
    assert "CAST-2026-06" in entry.summary
    assert "S/ 7,200.00" in entry.summary or "PEN 7,200.00" in entry.summary


def test_a_second_active_campaign_is_refused(campaign, debtor):
    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, code="CAST-2026-07")
    assert "El cliente ya tiene una campaña activa (CAST-2026-06)." in refused.value.messages
    assert Campaign.objects.filter(customer=debtor).count() == 1


def test_the_database_holds_one_active_campaign_per_customer(campaign, debtor):
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(
            customer=debtor,
            code="OTRA",
            debt_amount=DEBT,
            discount_type="amount",
            discount_value=Decimal("1"),
            discount_amount=Decimal("1"),
            amount=DEBT - 1,
        )


def test_paid_and_finished_campaigns_do_not_count_against_a_new_one(campaign, debtor):
    services.finish_campaign(campaign=campaign, actor=None)
    second = make_campaign(debtor, code="CAST-2026-07")
    assert second.is_active
    assert tags_of(debtor) == ["Cartera castigada"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"payment_code": "NO-EXISTE"}, "payment_code", "No existe un crédito con el código"),
        ({"ends_on": TODAY - timedelta(days=1)}, "ends_on", "ya pasó"),
        ({"code": ""}, "code", "Falta el ID de campaña."),
        ({"code": "X" * 31}, "code", "más de 30 caracteres"),
        (
            {"discount_type": "amount", "discount_value": DEBT},
            "discount_value",
            "menor que la deuda",
        ),
    ],
)
def test_create_refuses_with_the_field_and_reason(debtor, fields, field, message):
    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, **fields)
    assert any(message in text for text in refused.value.message_dict[field])
    assert not Campaign.objects.exists()
    assert tags_of(debtor) == []


def test_the_discount_percent_is_rounded_down_never_to_the_100_no_campaign_gives():
    # No campaign is made so today (the settings' maximum is at most 99.99 %), but one
    # made before the maximum, or after an admin raised it, still shows so.
    campaign = Campaign(debt_amount=Decimal("1000.00"), discount_amount=Decimal("999.99"))

    assert campaign.discount_percent == Decimal("99.99")


@pytest.mark.parametrize("status", [Loan.Status.PAID, Loan.Status.CANCELLED, Loan.Status.DRAFT])
def test_a_loan_without_debt_is_no_campaigns_loan(loan, debtor, status):
    Loan.objects.filter(pk=loan.pk).update(status=status)

    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, payment_code=loan.payment_code)

    (message,) = refused.value.message_dict["payment_code"]
    assert message == (
        f"El crédito {loan.payment_code} no tiene deuda pendiente (estado: "
        f"{Loan.Status(status).label}): indique uno castigado, o deje el código de pago en "
        "blanco."
    )
    assert not Campaign.objects.exists()


def test_an_active_loan_is_refused_until_it_is_written_off(loan, debtor):
    # Named by a campaign while still active, it was asked for twice (the bot added both
    # debts) and the campaign, paid, left it owed in full: a campaign covers only a
    # written-off loan.
    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, payment_code=loan.payment_code)

    assert refused.value.message_dict["payment_code"] == [
        f"El crédito {loan.payment_code} está vigente: una campaña de cartera castigada es de "
        "un crédito castigado. Castíguelo antes (en su página, «Castigar») o deje el código de "
        "pago en blanco."
    ]
    assert not Campaign.objects.exists()


def test_the_discount_percent_of_a_percentage_campaign_is_the_one_typed(debtor):
    # 40 % of 782.56 is 313.024, kept as 313.02: read back from the amount it was 39.99 %,
    # on the debtor's offer, in {porcentaje_descuento} and in the list's export.
    campaign = make_campaign(
        debtor,
        payment_code="",
        debt_amount=Decimal("782.56"),
        discount_type="percent",
        discount_value=Decimal("40"),
    )

    assert campaign.discount_amount == Decimal("313.02")
    assert campaign.discount_percent == Decimal("40")


def test_a_payment_code_of_another_customer_is_refused(written_off):
    other = CustomerFactory()
    with pytest.raises(ValidationError) as refused:
        make_campaign(other, payment_code=written_off.payment_code)
    assert "no es de este cliente" in refused.value.message_dict["payment_code"][0]


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_make_one_active_campaign(debtor):
    # On PostgreSQL both may read "no active campaign" and the constraint refuses the later
    # write; SQLite runs one write transaction at a time, so the second reads the first's.
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(code: str) -> None:
        try:
            barrier.wait(timeout=10)
            make_campaign(debtor, code=code)
            outcomes.append("made")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(f"C-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[-1] == "made"
    assert outcomes.count("made") == 1
    assert Campaign.objects.filter(customer=debtor, status=Campaign.Status.ACTIVE).count() == 1


# --- Status over time ----------------------------------------------------------------------


def test_a_campaign_finishes_the_day_after_its_end_date(campaign, debtor):
    with at(ENDS_ON):
        assert services.finish_ended() == 0
    with at(ENDS_ON + timedelta(days=1)):
        assert tasks.finish_ended_campaigns() == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert campaign.finished_at is not None
    assert tags_of(debtor) == []
    assert Interaction.objects.filter(
        customer=debtor, payload__recovery_campaign=campaign.pk, summary__contains="finalizada"
    ).exists()


def test_reading_a_debt_finishes_an_ended_campaign_before_the_daily_task(campaign, debtor):
    with at(ENDS_ON + timedelta(days=2)):
        debts = receivables.open_debts(debtor.pk, ENDS_ON + timedelta(days=2))
        debt = receivables.kind("campaign").debt(campaign.pk, ENDS_ON + timedelta(days=2))
    assert [d.kind for d in debts if d.kind == "campaign"] == []
    assert debt.total == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


def test_a_campaign_without_end_date_never_finishes(debtor):
    campaign = make_campaign(debtor, ends_on=None)
    with at(TODAY + timedelta(days=3000)):
        services.finish_ended()
    campaign.refresh_from_db()
    assert campaign.is_active


# --- Payments ------------------------------------------------------------------------------


def loan_state(loan):
    figures = credit_selectors.installment_figures([loan.pk])[loan.pk]
    return (
        Payment.objects.filter(loan=loan).count(),
        credit_selectors.open_balance(figures, TODAY).to_settle,
        loan.status,
    )


def report(debtor, campaign, amount):
    return collection_services.report_payment(
        customer=debtor,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        amount=amount,
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile("recibo.png", PNG, content_type="image/png"),
        origin=Origin.PORTAL,
        actor=None,
    )


def test_a_campaign_payment_leaves_the_loan_untouched(campaign, debtor, written_off, cobranzas):
    before = loan_state(written_off)

    reported = report(debtor, campaign, Decimal("2000.00"))
    collection_services.approve_reported_payment(report=reported, actor=cobranzas)

    written_off.refresh_from_db()
    assert loan_state(written_off) == before
    campaign.refresh_from_db()
    assert campaign.paid_amount == Decimal("2000.00")
    assert campaign.balance == CAMPAIGN_AMOUNT - Decimal("2000.00")
    assert campaign.is_active
    assert services.recompute_paid(campaign) == campaign.paid_amount


def test_paying_the_balance_marks_the_campaign_paid_and_removes_the_tag(
    campaign, debtor, cobranzas
):
    collection_services.approve_reported_payment(
        report=report(debtor, campaign, CAMPAIGN_AMOUNT), actor=cobranzas
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAID
    assert campaign.balance == 0
    assert tags_of(debtor) == []
    assert receivables.kind("campaign").debt(campaign.pk, TODAY).total == 0


def test_more_than_the_balance_is_refused_for_an_agent(campaign):
    with pytest.raises(ValidationError) as refused:
        services.apply_payment(
            campaign_id=campaign.pk,
            amount=CAMPAIGN_AMOUNT + 1,
            received_on=TODAY,
            source="cash",
            actor=None,
        )
    assert "supera el saldo de la campaña" in refused.value.messages[0]
    assert not CampaignPayment.objects.exists()


def test_a_gateway_payment_beyond_the_balance_is_kept_as_overpaid_once(campaign):
    kwargs = {
        "campaign_id": campaign.pk,
        "amount": CAMPAIGN_AMOUNT + Decimal("10.00"),
        "received_on": TODAY,
        "source": "mercadopago",
        "actor": None,
        "external_id": "mercadopago:123",
        "accept_overpayment": True,
    }
    first = services.apply_payment(**kwargs)
    again = services.apply_payment(**kwargs)
    assert first.pk == again.pk
    assert first.overpaid == Decimal("10.00")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.PAID, CAMPAIGN_AMOUNT)


def _gateway_payment(campaign, amount, operation):
    return services.apply_payment(
        campaign_id=campaign.pk,
        amount=amount,
        received_on=TODAY,
        source="mercadopago",
        actor=None,
        external_id=f"mercadopago:{operation}",
        accept_overpayment=True,
    )


def test_a_gateway_payment_to_a_campaign_paid_meanwhile_is_kept_whole_as_overpaid(campaign, debtor):
    # Two links, both paid: the second's money is in, and is never refused.
    _gateway_payment(campaign, CAMPAIGN_AMOUNT, "1")

    second = _gateway_payment(campaign, CAMPAIGN_AMOUNT, "2")

    assert (second.amount, second.overpaid) == (CAMPAIGN_AMOUNT, CAMPAIGN_AMOUNT)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.PAID, CAMPAIGN_AMOUNT)
    assert services.recompute_paid(campaign) == CAMPAIGN_AMOUNT
    entry = debtor.interactions.filter(payload__recovery_payment=second.pk).get()
    assert "ya no tenía saldo: todo queda como saldo a favor" in entry.summary


def test_annulling_the_payment_that_came_after_leaves_the_campaign_paid(campaign):
    _gateway_payment(campaign, CAMPAIGN_AMOUNT, "1")
    second = _gateway_payment(campaign, CAMPAIGN_AMOUNT, "2")

    services.annul_payment(payment_id=second.pk, actor=None, reason="Devuelto por MercadoPago")

    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.PAID, CAMPAIGN_AMOUNT)


def test_a_gateway_payment_to_a_campaign_finished_since_its_link_is_kept_unapplied(
    campaign, debtor
):
    # The link was made while the offer was open; the money arrived after it was finished
    # by hand (which withdrew the offer): recorded, for a person to refund or apply.
    services.finish_campaign(campaign=campaign, actor=None, reason="Venció")

    payment = _gateway_payment(campaign, CAMPAIGN_AMOUNT, "1")

    assert payment.overpaid == CAMPAIGN_AMOUNT
    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.FINISHED, 0)
    entry = debtor.interactions.filter(payload__recovery_payment=payment.pk).get()
    assert entry.summary.endswith(
        "; la campaña está finalizada: el pago no se aplicó a ella y queda como saldo a "
        "favor, para devolverlo o aplicarlo a mano"
    )


def test_an_annulment_restores_the_balance_and_the_active_campaign(campaign, debtor, cobranzas):
    review = collection_services.approve_reported_payment(
        report=report(debtor, campaign, CAMPAIGN_AMOUNT), actor=cobranzas
    )
    payment_id = review.report.payment_id

    collection_services.annul_payment(
        customer=debtor,
        receivable_kind="campaign",
        payment_id=payment_id,
        actor=cobranzas,
        reason="Transferencia rebotada",
    )

    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.ACTIVE, Decimal("0.00"))
    assert tags_of(debtor) == ["Cartera castigada"]
    payment = CampaignPayment.objects.get(pk=payment_id)
    assert payment.status == CampaignPayment.Status.ANNULLED
    assert payment.annul_reason == "Transferencia rebotada"
    assert services.recompute_paid(campaign) == 0


def test_a_finished_campaign_takes_no_payment(campaign):
    services.finish_campaign(campaign=campaign, actor=None, reason="Acuerdo con el estudio")
    with pytest.raises(ValidationError, match="finalizada"):
        services.apply_payment(
            campaign_id=campaign.pk,
            amount=Decimal("1"),
            received_on=TODAY,
            source="cash",
            actor=None,
        )


def test_a_campaign_is_an_open_debt_of_the_written_off_portfolio(campaign, debtor):
    debt = next(d for d in receivables.open_debts(debtor.pk, TODAY) if d.kind == "campaign")
    assert (debt.code, debt.total, debt.portfolio) == ("CAST-2026-06", CAMPAIGN_AMOUNT, "castigada")
    # No agreement is offered on a campaign: it is the discount already.
    assert collection_services.agreement_options(debt) == []


# --- Templates, events settings, segments --------------------------------------------------


def test_the_campaign_variables_are_offered_to_written_off_templates_only(db):
    assert "deuda_castigada" in variables.variables_for("castigada")
    assert "deuda_castigada" not in variables.variables_for("vigente")
    with pytest.raises(ValidationError):
        make_template(name="Vigente con castigada", body="Debe {deuda_castigada}")


def test_the_campaign_variables_say_the_campaign(campaign, debtor, written_off):
    (values,) = variables.load_values(
        [
            variables.Recipient(
                customer=debtor, receivable_kind="campaign", receivable_id=campaign.pk
            )
        ],
        "castigada",
        TODAY,
    )
    assert values["deuda_castigada"] == "S/ 12,000.00"
    assert values["porcentaje_descuento"] == "40 %"
    assert values["monto_descuento"] == "S/ 4,800.00"
    assert values["monto_cancelacion"] == "S/ 7,200.00"
    assert values["codigo_pago_asociado"] == written_off.payment_code
    assert values["fecha_fin_campana"] == ENDS_ON.strftime("%d/%m/%Y")
    assert values["link_pago"].endswith("/recovery/")
    # Without a named campaign (a flow, a preview), the customer's active one.
    (values,) = variables.load_values([variables.Recipient(customer=debtor)], "castigada", TODAY)
    assert values["monto_cancelacion"] == "S/ 7,200.00"


def test_the_castigada_events_settings_answer_a_campaign_payment_to_verify(
    campaign, debtor, django_capture_on_commit_callbacks
):
    events.connect()
    template = make_template(
        name="Castigada por verificar",
        portfolio="castigada",
        body="{nombre}: verificaremos su pago de {monto_pago}; "
        "su campaña paga {monto_cancelacion}.",
    )
    setting = EventSetting.objects.create(
        portfolio="castigada", event=EventSetting.Event.TO_VERIFY, template=template
    )
    with django_capture_on_commit_callbacks(execute=True):
        report(debtor, campaign, Decimal("300.00"))
    (message,) = Message.objects.filter(origin=events.ORIGIN, origin_id=setting.pk)
    assert message.body == (
        f"{debtor.first_name}: verificaremos su pago de S/ 300.00; su campaña paga S/ 7,200.00."
    )


def test_a_customer_with_an_active_campaign_never_enters_a_flow(db):
    sms = make_template(name="Recordatorio", body="Hola {nombre}, vence {fecha_vencimiento}.")
    in_campaign = debtor_due(0)
    current = debtor_due(0)
    make_campaign(in_campaign.customer, ends_on=None)
    segment = whole_portfolio()
    flow = make_flow(segment, [(0, sms)])

    assert segments.count(segment, TODAY) == 1
    run = flows.run_step(flow.steps.get(), TODAY)

    assert run.selected == 1
    assert list(
        Message.objects.filter(origin=flows.ORIGIN).values_list("customer_id", flat=True)
    ) == [current.customer_id]


def test_once_the_campaign_is_paid_the_customer_may_enter_flows_again(db, cobranzas):
    in_campaign = debtor_due(0)
    campaign = make_campaign(in_campaign.customer, ends_on=None)
    segment = whole_portfolio()
    assert segments.count(segment, TODAY) == 0
    services.apply_payment(
        campaign_id=campaign.pk,
        amount=campaign.amount,
        received_on=TODAY,
        source="cash",
        actor=None,
    )
    assert segments.count(segment, TODAY) == 1


def test_a_template_unknown_variable_is_still_refused_on_save(db):
    with pytest.raises(ValidationError):
        templating.save_template(
            data={
                "name": "X",
                "channel": "sms",
                "portfolio": "castigada",
                "subject": "",
                "body": "{deuda_inventada}",
                "whatsapp_name": "",
                "whatsapp_language": "es",
                "is_active": True,
            }
        )


def test_a_campaign_may_end_ten_years_on_to_the_day_not_a_week_later():
    from datetime import date

    from crm.gestiones.campaigns.services import latest_day
    from recovery.services import latest_end

    assert latest_end(date(2026, 12, 6)) == date(2036, 12, 6)  # 366 × 10 days said 13/12
    assert latest_end(date(2028, 2, 29)) == date(2038, 2, 28)
    assert latest_day(date(2026, 12, 6)) == date(2036, 12, 6)


# --- Who the debtor is -------------------------------------------------------------------


def test_a_debtor_with_a_campaign_keeps_their_identity_without_loans(asesor):
    from crm import identity
    from crm import services as crm_services
    from recovery.portal import selectors as portal_selectors

    debtor = CustomerFactory(document_type="dni", document_number="45678912")
    make_campaign(debtor)
    Campaign.objects.filter(code="CAST-2026-06").update(status=Campaign.Status.FINISHED)
    make_campaign(debtor, code="CAST-2026-07", ends_on=None)  # finished or active: both count

    assert identity.protection(debtor) == [
        "tiene campañas de cartera castigada (CAST-2026-06, CAST-2026-07)"
    ]
    # An advisor's change of the document, unconfirmed, lost the debtor's offer in /recovery/.
    with pytest.raises(ValidationError):
        crm_services.update_customer(
            customer=debtor,
            actor=asesor,
            data={"document_type": "dni", "document_number": "45678913"},
        )
    debtor.refresh_from_db()
    assert debtor.document_number == "45678912"
    assert portal_selectors.campaign_for_document("dni", "45678912") is not None
