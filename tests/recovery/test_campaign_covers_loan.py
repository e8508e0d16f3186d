"""A written-off campaign, active or paid, covers its written-off loan: the debtor is asked
for the campaign while it is active and for nothing once it is paid, never for the loan as
well; the loan's own ledger is left as it was, and its page says which campaign covers it.
A finished (expired) campaign covers nothing: the loan is owed again.

The clock is frozen on TODAY (15 June 2026), as for every recovery test.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import receivables
from credits import selectors as credit_selectors
from credits.models import LedgerEntry, Loan
from credits.services import loans as loan_services
from recovery import services as recovery_services
from recovery.models import Campaign
from tests.collections_app.test_bot_api import bot, doc, openapi, token  # noqa: F401 (fixtures)
from tests.collections_app.test_portal import STATEMENT, google, reachable, signed_in  # noqa: F401
from tests.recovery.conftest import CAMPAIGN_AMOUNT, ENDS_ON, TODAY, at, make_campaign

COVERED = "Cubierto por la campaña de cartera castigada CAST-2026-06"


def pay_campaign(campaign: Campaign) -> None:
    recovery_services.apply_payment(
        campaign_id=campaign.pk,
        amount=CAMPAIGN_AMOUNT,
        received_on=TODAY,
        source="cash",
        actor=None,
    )


def written_off_loan(make_active_loan, customer) -> Loan:
    loan = make_active_loan(customer=customer)
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    loan.refresh_from_db()
    return loan


def books(loan: Loan) -> tuple:
    """The loan's ledger rows, the figures recomputed from them, and its stored state."""
    loan.refresh_from_db()
    return (
        list(
            LedgerEntry.objects.filter(loan=loan).order_by("pk").values_list("pk", "owed", "paid")
        ),
        credit_selectors.balances_from_ledger(loan),
        loan.status,
        loan.credit_balance,
    )


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


# --- The bot ---------------------------------------------------------------------------------


def test_the_bot_asks_for_the_campaigns_balance_not_for_the_loan_as_well(
    bot,  # noqa: F811 (the bot tests' fixture)
    campaign,
    debtor,
):
    lookup = bot.get("/lookup", doc(debtor)).json()
    listed = bot.get("/credits", doc(debtor)).json()["creditos"]

    assert lookup["estado"] == "CON_DEUDA"
    assert (lookup["deuda"]["total"], lookup["deuda"]["creditos"]) == ("7200.00", 1)
    assert [(c["codigo_pago"], c["total"]) for c in listed] == [("CAST-2026-06", "7200.00")]


def test_once_the_campaign_is_paid_the_bot_says_nothing_is_owed(bot, campaign, debtor):  # noqa: F811
    pay_campaign(campaign)

    lookup = bot.get("/lookup", doc(debtor)).json()

    assert (lookup["estado"], lookup["deuda"]) == ("SIN_DEUDA", None)


# --- The debtor portal and the agents' page ---------------------------------------------------


def test_once_the_campaign_is_paid_the_portal_offers_no_payment_for_the_loan(
    google,  # noqa: F811 (the portal tests' fixtures)
    reachable,  # noqa: F811
    campaign,
    written_off,
):
    pay_campaign(campaign)
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assert response.status_code == 200
    assertNotContains(response, written_off.payment_code)
    assertNotContains(response, f'value="loan:{written_off.pk}"')
    assertNotContains(response, "Pagar el total")
    assertNotContains(response, 'id="statement-totals"')
    # Settled, not unknown: «No encontramos créditos a su nombre» read as a mistake.
    assertContains(response, "No tiene deudas pendientes. ¡Gracias!")


def test_a_blank_code_covers_every_written_off_loan_but_not_a_current_one(
    agent_client, debtor, written_off, make_active_loan
):
    other_written_off = written_off_loan(make_active_loan, debtor)
    current = make_active_loan(customer=debtor)
    campaign = make_campaign(debtor, payment_code="")

    response = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    listed = {(debt.kind, debt.id) for debt in response.context["debts"]}
    assert listed == {("campaign", campaign.pk), ("loan", current.pk)}
    choices = {key for key, _label in response.context["link_form"].fields["debt"].choices}
    assert choices == {f"campaign:{campaign.pk}", f"loan:{current.pk}"}
    for loan in (written_off, other_written_off):
        assertNotContains(response, f'value="loan:{loan.pk}"')


def test_a_campaign_covers_its_loan_only_until_it_finishes(campaign, written_off, debtor):
    after_the_end = ENDS_ON + timedelta(days=1)

    while_active = receivables.open_debts(debtor.pk, TODAY)
    with at(after_the_end):
        once_finished = receivables.open_debts(debtor.pk, after_the_end)

    assert [(d.kind, d.total) for d in while_active] == [("campaign", CAMPAIGN_AMOUNT)]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert [(d.kind, d.id) for d in once_finished] == [("loan", written_off.pk)]
    assert once_finished[0].total > 0


# --- The loan's page and its ledger ------------------------------------------------------------


def test_the_loan_page_says_which_campaign_covers_it_and_keeps_its_balance(
    client, supervisor, campaign, written_off
):
    client.force_login(supervisor)
    url = reverse("credits:loan_detail", args=[written_off.pk])
    total = credit_selectors.loan_balance(written_off).total_due

    while_active = client.get(url)
    pay_campaign(campaign)
    once_paid = client.get(url)

    assertContains(while_active, f"{COVERED} (activa)")
    assertContains(once_paid, f"{COVERED} (pagada)")
    for response in (while_active, once_paid):
        assert response.context["balance"].total_due == total > 0


def test_covering_the_loan_leaves_its_ledger_as_it_was(bot, debtor, written_off):  # noqa: F811
    before = books(written_off)

    campaign = make_campaign(debtor, payment_code=written_off.payment_code)
    covered = bot.get("/lookup", doc(debtor)).json()
    pay_campaign(campaign)
    settled = bot.get("/lookup", doc(debtor)).json()

    assert covered["deuda"]["total"] == "7200.00"
    assert settled["estado"] == "SIN_DEUDA"
    assert books(written_off) == before
    assert before[2] == Loan.Status.WRITTEN_OFF
