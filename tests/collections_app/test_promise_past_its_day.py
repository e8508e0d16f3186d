"""A promise whose day has passed is no longer in course, though the nightly (00:30) has not
judged it yet, or did not run (an outage): a new promise is taken, the old one judged as the
nightly would, and no screen shows it as in course."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import selectors, services
from collections_app.models import Origin, PaymentPromise
from collections_app.portal import selectors as portal_selectors
from crm.models import Interaction
from tests.collections_app.conftest import INSTALLMENT, TODAY, at, pay
from tests.collections_app.test_portal import (  # noqa: F401 (fixtures)
    STATEMENT,
    google,
    reachable,
    signed_in,
)

# The promise made on TODAY for DAY; the clock then moves to LATER, past DAY, with no
# nightly run in between.
DAY = TODAY + timedelta(days=2)
LATER = TODAY + timedelta(days=5)


def promise(debtor, loan, *, on, amount=INSTALLMENT, origin=Origin.BOT, actor=None):
    return services.promise_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=amount,
        promised_on=on,
        origin=origin,
        actor=actor,
    )


def test_a_new_promise_is_taken_and_the_old_one_judged_broken_as_the_nightly_would(loan, debtor):
    old = promise(debtor, loan, on=DAY)

    with at(LATER):
        new = promise(debtor, loan, on=LATER + timedelta(days=3))

    old.refresh_from_db()
    assert old.status == PaymentPromise.Status.BROKEN
    assert old.paid_amount == Decimal("0.00")
    assert old.resolved_at is not None
    assert new.status == PaymentPromise.Status.PENDING
    entry = Interaction.objects.filter(customer=debtor, payload__promise=old.pk).latest("pk")
    assert entry.kind == Interaction.Kind.SYSTEM
    assert entry.summary.startswith("Compromiso de pago incumplido")
    # The nightly, when it runs, finds nothing more to do.
    assert services.resolve_promises(today=LATER) == {"kept": 0, "broken": 0}


def test_an_old_promise_paid_by_its_day_ends_kept(loan, debtor):
    old = promise(debtor, loan, on=DAY)
    with at(TODAY + timedelta(days=1)):
        pay(loan, INSTALLMENT, TODAY + timedelta(days=1))

    with at(LATER):
        promise(debtor, loan, on=LATER + timedelta(days=3))

    old.refresh_from_db()
    assert old.status == PaymentPromise.Status.KEPT
    assert old.paid_amount == INSTALLMENT


def test_a_promise_due_today_is_still_in_course(loan, debtor):
    promise(debtor, loan, on=DAY)

    with at(DAY), pytest.raises(Exception, match="Ya hay un compromiso vigente"):
        promise(debtor, loan, on=DAY + timedelta(days=3))

    assert PaymentPromise.objects.get().status == PaymentPromise.Status.PENDING


def test_an_agent_registers_a_new_promise_the_morning_after_the_day_of_the_old(
    client, cobranzas, loan, debtor
):
    old = promise(debtor, loan, on=DAY)

    with at(DAY + timedelta(days=1), hour=0):  # 00:00, before the nightly's 00:30
        client.force_login(cobranzas)
        response = client.post(
            reverse("collections_app:customer_promise_create", args=[debtor.pk]),
            {
                "promise-debt": f"loan:{loan.pk}",
                "promise-amount": "500.00",
                "promise-promised_on": (DAY + timedelta(days=4)).isoformat(),
            },
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("collections_app:customer_collections", args=[debtor.pk])
    old.refresh_from_db()
    assert old.status == PaymentPromise.Status.BROKEN
    assert PaymentPromise.objects.filter(status=PaymentPromise.Status.PENDING).count() == 1


def test_the_customer_page_does_not_show_it_in_course(client, cobranzas, loan, debtor):
    promise(debtor, loan, on=DAY)
    client.force_login(cobranzas)
    url = reverse("collections_app:customer_collections", args=[debtor.pk])

    before = client.get(url)
    with at(LATER):
        client.force_login(cobranzas)  # days later: a new session
        after = client.get(url)

    assertContains(before, "Vigente")
    assertNotContains(after, ">Vigente<")
    assertContains(after, "Por resolver")


def test_the_in_course_tab_leaves_it_out(loan, debtor):
    promise(debtor, loan, on=DAY)

    with at(LATER):
        in_course = list(selectors.promise_list(view=selectors.IN_COURSE))
        counts = selectors.promise_counts()

    assert in_course == []
    assert counts[selectors.IN_COURSE] == 0
    assert counts["todos"] == 1


def test_the_portal_statement_does_not_list_it_in_course(loan, debtor):
    promise(debtor, loan, on=DAY)

    before = portal_selectors.statement(debtor)
    with at(LATER):
        after = portal_selectors.statement(debtor)

    assert [p.promised_on for p in before.promises] == [DAY]
    assert after.promises == []


def test_the_portal_page_does_not_show_it(client, reachable, loan):  # noqa: F811
    promise(reachable, loan, on=DAY)

    with at(LATER):
        page = signed_in(client, reachable).get(STATEMENT)

    assertNotContains(page, "Compromiso de pagar")
