"""The debtors' portal forms sent twice (a double click, the back button and send): a
promise to pay and an agreement. The second finds what the first made and says so, or
goes where the first went, instead of refusing as if the debt had someone else's."""

from datetime import datetime, time
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from collections_app.models import AgreementRule, PaymentAgreement, PaymentPromise
from tests.collections_app.conftest import (  # noqa: F401 (fixtures, imported)
    _fresh_gateways,
    _frozen,
    debtor,
    frozen_today,
    loan,
    make_active_loan,
)
from tests.collections_app.test_portal import (  # noqa: F401 (fixtures, imported)
    STATEMENT,
    going_to,
    google,
    reachable,
    signed_in,
)
from tests.credits.conftest import LIMA, TODAY

PROMISE = reverse("collections_app:portal_promise")
AGREEMENT = reverse("collections_app:portal_agreement")


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_a_promise_sent_twice_is_recorded_once_and_the_second_says_so(reachable, loan):  # noqa: F811
    client = signed_in(Client(), reachable)
    data = {"debt": f"loan:{loan.pk}", "amount": "500", "promised_on": "2026-06-30"}
    client.post(PROMISE, data)

    second = client.post(PROMISE, data, follow=True)

    assert PaymentPromise.objects.count() == 1
    assert second.redirect_chain == [(STATEMENT, 302)]
    assert (
        "Su compromiso de pago para el 30/06/2026 ya quedó registrado hace un momento; no se "
        "registró otro." in shown(second)
    )


def test_another_promise_while_one_waits_is_still_refused(reachable, loan):  # noqa: F811
    client = signed_in(Client(), reachable)
    client.post(PROMISE, {"debt": f"loan:{loan.pk}", "amount": "500", "promised_on": "2026-06-30"})

    other = client.post(
        PROMISE, {"debt": f"loan:{loan.pk}", "amount": "800", "promised_on": "2026-06-30"}
    )

    assert other.status_code == 200
    assert "Ya hay un compromiso vigente" in other.content.decode()
    assert PaymentPromise.objects.count() == 1


@pytest.fixture
def rule(loan):  # noqa: F811
    loan.days_past_due = 134
    loan.save()
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("20")
    )


def test_an_agreement_sent_twice_is_taken_once_and_both_go_to_pay_its_down_payment(
    reachable,  # noqa: F811
    loan,  # noqa: F811
    rule,
):
    client = signed_in(Client(), reachable)
    data = {"debt": f"loan:{loan.pk}", "option": f"{rule.pk}-3", "provider": "mercadopago"}
    first = client.post(AGREEMENT, data)

    second = client.post(AGREEMENT, data)

    link = PaymentAgreement.objects.get().links.get()
    assert first["Location"] == second["Location"] == going_to(link)


def test_another_agreement_or_one_later_is_still_refused(reachable, loan, rule):  # noqa: F811
    client = signed_in(Client(), reachable)
    data = {"debt": f"loan:{loan.pk}", "option": f"{rule.pk}-3", "provider": "mercadopago"}
    client.post(AGREEMENT, data)

    other = client.post(AGREEMENT, {**data, "option": f"{rule.pk}-2"})
    with time_machine.travel(datetime.combine(TODAY, time(12, 2), tzinfo=LIMA), tick=False):
        later = client.post(AGREEMENT, data)

    assert other["Location"] == later["Location"] == STATEMENT
    assert PaymentAgreement.objects.count() == 1
