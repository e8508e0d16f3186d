"""The same form sent twice: a double click, the back button and send, a slow network's
retry. The second POST (the same data, the same CSRF token) records nothing new, and the
page says what was done the first time, not an error that reads as a failure."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from callcenter.models import CallRecord, Order, StockMovement
from collections_app.models import PaymentLink
from credits.investors import services as investor_services
from credits.models import Distribution, Liquidation, Payment
from credits.services import payments as payment_services
from crm.models import Message
from integrations import fakes
from tests.callcenter.conftest import (  # noqa: F401 (fixtures, imported)
    held_lead,
    kommo_settings,
    make_product,
    queue_config,
)
from tests.credits.conftest import frozen_today, make_active_loan  # noqa: F401
from tests.factories import CustomerFactory, InvestorFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- A reply to a customer ---------------------------------------------------------------


@pytest.fixture
def rosa(db):
    return CustomerFactory(
        first_name="Rosa",
        last_name="Huamán",
        document_number="45678912",
        phone="+51987654321",
        email="rosa@example.pe",
    )


def test_a_reply_sent_twice_goes_to_the_customer_once(client, cobranzas, rosa):
    client.force_login(cobranzas)
    url = reverse("collections_app:conversation_reply", args=[rosa.pk])
    data = {"channel": "sms", "body": "Su cuota vence hoy."}

    first = client.post(url, data)
    second = client.post(url, data)

    assert first.status_code == 302
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1
    assert second.status_code == 200
    assertContains(second, "Usted envió este mismo mensaje a Rosa Huamán hace un momento")


def test_the_same_reply_to_another_channel_or_later_is_sent(client, cobranzas, rosa, time_machine):
    client.force_login(cobranzas)
    url = reverse("collections_app:conversation_reply", args=[rosa.pk])
    client.post(url, {"channel": "sms", "body": "Su cuota vence hoy."})
    client.post(url, {"channel": "email", "subject": "Cuota", "body": "Su cuota vence hoy."})
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=11))

    client.post(url, {"channel": "sms", "body": "Su cuota vence hoy."})

    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 3


# --- A payment link made by an agent -----------------------------------------------------


@pytest.fixture
def debtor_loan(frozen_today, make_active_loan):  # noqa: F811
    fakes.reset()
    yield make_active_loan()
    fakes.reset()


def test_a_payment_link_sent_twice_makes_one_link(client, cobranzas, debtor_loan):
    client.force_login(cobranzas)
    url = reverse("collections_app:customer_link_create", args=[debtor_loan.customer.pk])
    data = {
        "link-debt": f"loan:{debtor_loan.pk}",
        "link-concept": "total",
        "link-provider": "mercadopago",
    }

    client.post(url, data)
    second = client.post(url, data)

    link = PaymentLink.objects.get()
    assert second.status_code == 200
    assertContains(second, f"Usted creó este mismo link hace un momento ({link.reference}")


# --- The call center ---------------------------------------------------------------------


def test_an_order_confirmed_twice_takes_the_stock_once_and_says_it_was_placed(
    client,
    agente,
    held_lead,  # noqa: F811
):
    product = make_product(stock=5)
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]), {"product": product.pk, "quantity": 2}
    )
    url = reverse("callcenter:order_confirm", args=[held_lead.pk])

    client.post(url, {"notes": ""}, follow=True)
    second = client.post(url, {"notes": ""}, follow=True)

    order = Order.objects.get()
    product.refresh_from_db()
    assert product.stock == 3
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert CallRecord.objects.count() == 1
    assert shown(second) == [
        f"Este pedido ya se registró: pedido {order.pk}, confirmado hace un momento."
    ]


@pytest.mark.parametrize(
    ("outcome", "label"), [("no_answer", "No contesta"), ("not_interested", "No interesado")]
)
def test_a_call_recorded_twice_is_recorded_once_and_says_so(
    client,
    agente,
    held_lead,  # noqa: F811
    outcome,
    label,
):
    from callcenter.models import LossReason

    reason = LossReason.objects.create(name="Precio")
    client.force_login(agente)
    url = reverse("callcenter:lead_outcome", args=[held_lead.pk])
    data = {"outcome-outcome": outcome, "outcome-loss_reason": reason.pk}

    client.post(url, data, follow=True)
    second = client.post(url, data, follow=True)

    assert CallRecord.objects.count() == 1
    assert shown(second) == [
        f"Esta llamada ya se registró hace un momento ({label}): no se registró otra."
    ]


# --- An investor's liquidation -----------------------------------------------------------


@pytest.fixture
def funded(make_active_loan, time_machine):  # noqa: F811
    time_machine.move_to(datetime(2026, 1, 1, 10, tzinfo=LIMA), tick=False)
    loan = make_active_loan(
        product=LoanProductFactory(method="flat", platform_fee_percent=Decimal("10")),
        principal=Decimal("10000.00"),
    )
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    time_machine.move_to(datetime(2026, 2, 1, 10, tzinfo=LIMA), tick=False)
    payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1033.33"),
        received_on=date(2026, 2, 1),
        source=Payment.Source.TRANSFER,
        actor=None,
    )
    time_machine.move_to(datetime(2026, 4, 2, 10, tzinfo=LIMA), tick=False)
    return lucia


def test_a_liquidation_sent_twice_names_the_one_just_made(client, supervisor, funded):
    client.force_login(supervisor)
    data = {"investor": funded.pk, "period_start": "2026-02-01", "period_end": "2026-02-28"}

    client.post(reverse("credits:liquidation_create"), data)
    second = client.post(reverse("credits:liquidation_create"), data)

    liquidation = Liquidation.objects.get()
    assert second.status_code == 200
    assertContains(second, f"Usted creó esta liquidación hace un momento (#{liquidation.pk}")
    assert not Distribution.objects.filter(liquidation__isnull=True).exists()


def test_the_same_share_given_twice_says_the_investor_already_takes_part(
    make_active_loan,  # noqa: F811
):
    # It said "superarían el 100 %": the first 60 % plus the repeat's.
    loan = make_active_loan(principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))

    with pytest.raises(ValidationError, match="Ese inversionista ya participa en este crédito"):
        investor_services.add_participation(
            loan=loan, investor=lucia, actor=None, share=Decimal("60")
        )
