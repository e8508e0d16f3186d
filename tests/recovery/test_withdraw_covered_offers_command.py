"""`manage.py withdraw_covered_offers`: the campaigns made before their creation withdrew
what was open on the loans they cover still leave those links, promises and agreements
open; the command withdraws them as the creation now does (a dry run unless --apply).

The old state is set up as it was left: the offers made on the written-off loan first, then
the campaign written without the withdrawal (directly, as the old creation path left it).
The clock is frozen on TODAY (15 June 2026), as for every recovery test.
"""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from collections_app.models import PaymentAgreement, PaymentLink, PaymentPromise
from credits.services import loans as loan_services
from crm.models import Interaction
from recovery import services as recovery_services
from recovery.models import Campaign
from tests.factories import CustomerFactory
from tests.recovery.conftest import CAMPAIGN_AMOUNT, DEBT, ENDS_ON, TODAY
from tests.recovery.test_campaign_withdraws_covered_loan_offers import (
    loan_agreement,
    loan_link,
    loan_promise,
    summaries,
)

COVERED = "el crédito %s lo cubre la campaña de cartera castigada %s"


def old_campaign(customer, code="CAST-2026-06", **fields) -> Campaign:
    """An active campaign as the creation left it before it withdrew the loans' offers."""
    data = {
        "customer": customer,
        "code": code,
        "debt_amount": DEBT,
        "discount_type": "percent",
        "discount_value": Decimal("40"),
        "discount_amount": DEBT - CAMPAIGN_AMOUNT,
        "amount": CAMPAIGN_AMOUNT,
        "ends_on": ENDS_ON,
        "payment_code": "",
        **fields,
    }
    campaign = Campaign.objects.create(**data)
    # The loans it covers, as its creation (or the migration, for one made before) fixed them.
    recovery_services.cover_loans({campaign.pk: campaign})
    return campaign


def written_off_loan(make_active_loan, **fields):
    loan = make_active_loan(**fields)
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    loan.refresh_from_db()
    return loan


def run(*args: str) -> str:
    out = StringIO()
    call_command("withdraw_covered_offers", *args, stdout=out, stderr=out)
    return out.getvalue()


def statuses(*offers) -> list[str]:
    for offer in offers:
        offer.refresh_from_db()
    return [offer.status for offer in offers]


def test_a_dry_run_counts_what_it_would_withdraw_and_changes_nothing(written_off, debtor):
    link, promise, agreement = (
        loan_link(written_off),
        loan_promise(written_off),
        loan_agreement(written_off),
    )
    old_campaign(debtor, payment_code=written_off.payment_code)
    entries = debtor.interactions.count()

    output = run()

    assert output.splitlines() == [
        "Campañas revisadas (activas o pagadas): 1",
        "Simulación: no se ha cambiado nada.",
        "Campañas con ofertas por retirar: 1",
        "Créditos: 1",
        "Links de pago por retirar: 1",
        "Compromisos de pago por retirar: 1",
        "Convenios de pago por retirar: 1",
        f"Códigos de pago: {written_off.payment_code}",
        "Ejecute el comando con --apply para retirarlas.",
    ]
    assert statuses(link, promise, agreement) == [
        PaymentLink.Status.ACTIVE,
        PaymentPromise.Status.PENDING,
        PaymentAgreement.Status.PENDING,
    ]
    assert debtor.interactions.count() == entries


def test_apply_withdraws_them_on_the_timeline_as_the_creation_does(written_off, debtor):
    link, promise, agreement = (
        loan_link(written_off),
        loan_promise(written_off),
        loan_agreement(written_off),
    )
    old_campaign(debtor, payment_code="")  # blank: all the customer's written-off loans

    output = run("--apply")

    assert output.splitlines() == [
        "Campañas revisadas (activas o pagadas): 1",
        "Campañas con ofertas retiradas: 1",
        "Créditos: 1",
        "Links de pago retirados: 1",
        "Compromisos de pago retirados: 1",
        "Convenios de pago retirados: 1",
        f"Códigos de pago: {written_off.payment_code}",
    ]
    assert statuses(link, promise, agreement) == [
        PaymentLink.Status.CANCELLED,
        PaymentPromise.Status.CANCELLED,
        PaymentAgreement.Status.CANCELLED,
    ]
    reason = COVERED % (written_off.payment_code, "CAST-2026-06")
    assert link.status_reason == reason
    said = summaries(debtor)
    assert f"Link de pago {link.reference} de S/ {link.amount:,.2f} anulado: {reason}" in said
    assert f"Compromiso de pago del 20/06/2026 anulado: {reason}" in said
    assert f"Convenio de pago #{agreement.pk} anulado: {reason}" in said
    # Nobody did it by hand: bookkeeping, as when the nightly task finishes a campaign.
    entry = debtor.interactions.get(payload__link=link.pk, summary__contains="anulado")
    assert (entry.kind, entry.actor) == (Interaction.Kind.SYSTEM, None)


def test_a_second_apply_withdraws_nothing_and_says_so(written_off, debtor):
    loan_link(written_off)
    old_campaign(debtor)
    assert "Links de pago retirados: 1" in run("--apply")
    entries = debtor.interactions.count()

    output = run("--apply")

    assert output.splitlines() == [
        "Campañas revisadas (activas o pagadas): 1",
        "Ninguna campaña cubre créditos con links de pago, compromisos o convenios "
        "abiertos: no hay nada que retirar.",
    ]
    assert debtor.interactions.count() == entries


def test_finished_and_ended_campaigns_are_left_alone_and_a_paid_ones_loan_is_withdrawn(
    make_active_loan,
):
    links = []
    for code, fields in (
        # Paid: it settled the loan, which must not take the whole loan's money either.
        ("PAGADA", {"status": Campaign.Status.PAID, "paid_amount": CAMPAIGN_AMOUNT}),
        ("FINALIZADA", {"status": Campaign.Status.FINISHED, "finished_at": timezone.now()}),
        # Active still, but past its end date: it covers nothing, the loan is owed again.
        ("VENCIDA", {"ends_on": TODAY - timedelta(days=1)}),
    ):
        loan = written_off_loan(make_active_loan, customer=CustomerFactory())
        links.append(loan_link(loan))
        old_campaign(loan.customer, code=code, **fields)

    output = run("--apply")

    assert "Campañas revisadas (activas o pagadas): 1" in output
    assert "Links de pago retirados: 1" in output
    assert statuses(*links) == [
        PaymentLink.Status.CANCELLED,
        PaymentLink.Status.ACTIVE,
        PaymentLink.Status.ACTIVE,
    ]


def test_loans_the_campaign_does_not_cover_are_left_alone(written_off, debtor, make_active_loan):
    other = written_off_loan(make_active_loan, customer=debtor)
    current = make_active_loan(customer=debtor)  # not written off: never covered
    covered_link, other_link, current_link = (
        loan_link(written_off),
        loan_link(other),
        loan_link(current),
    )
    other_promise = loan_promise(other)
    old_campaign(debtor, payment_code=written_off.payment_code)

    output = run("--apply")

    assert "Links de pago retirados: 1" in output
    assert "Compromisos de pago retirados: 0" in output
    assert statuses(covered_link, other_link, current_link, other_promise) == [
        PaymentLink.Status.CANCELLED,
        PaymentLink.Status.ACTIVE,
        PaymentLink.Status.ACTIVE,
        PaymentPromise.Status.PENDING,
    ]


def test_it_goes_through_every_chunk_of_campaigns(monkeypatch, make_active_loan):
    # Three campaigns read two at a time: the last one, alone in its chunk, is withdrawn too.
    monkeypatch.setattr("recovery.management.commands.withdraw_covered_offers.CHUNK", 2)
    links = []
    for number in range(3):
        loan = written_off_loan(make_active_loan, customer=CustomerFactory())
        links.append(loan_link(loan))
        old_campaign(loan.customer, code=f"CAST-{number}")

    output = run("--apply")

    assert "Campañas revisadas (activas o pagadas): 3" in output
    assert "Campañas con ofertas retiradas: 3" in output
    assert statuses(*links) == [PaymentLink.Status.CANCELLED] * 3
