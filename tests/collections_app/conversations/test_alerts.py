"""The inbox's alerts: broken promises, payments reported and waiting, messages unanswered
for hours; each row to the customer's conversation, with the castigada icon."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.conversations import alerts, selectors, services
from collections_app.models import PaymentPromise, ReportedPayment
from crm import messages
from tests.collections_app.conftest import TODAY
from tests.collections_app.conversations.conftest import hours_ago, inbound, write_off
from tests.factories import CustomerFactory


def alert(kind: str) -> alerts.Alert:
    return next(found for found in alerts.attention() if found.kind == kind)


def promise(customer, *, status=PaymentPromise.Status.BROKEN, promised_on=None):
    return PaymentPromise.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=1,
        receivable_code="L000000001",
        currency="PEN",
        amount=Decimal("945.60"),
        promised_on=promised_on or TODAY - timedelta(days=3),
        status=status,
    )


def report(customer, *, status=ReportedPayment.Status.PENDING):
    return ReportedPayment.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=1,
        receivable_code="L000000001",
        currency="PEN",
        amount=Decimal("500.00"),
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        receipt="comprobantes/x/recibo.pdf",
        status=status,
    )


def test_a_promise_broken_in_the_last_30_days_asks_for_attention(rosa):
    promise(rosa)
    promise(CustomerFactory(), promised_on=TODAY - timedelta(days=45))
    promise(CustomerFactory(), status=PaymentPromise.Status.PENDING)

    broken = alert(alerts.BROKEN)

    assert broken.count == 1
    assert [row.customer for row in broken.rows] == [rosa]


def test_a_payment_waiting_to_be_verified_asks_for_attention(rosa):
    report(rosa)
    report(CustomerFactory(), status=ReportedPayment.Status.APPROVED)

    reported = alert(alerts.REPORTED)

    assert reported.count == 1
    assert [row.customer for row in reported.rows] == [rosa]


def test_a_message_unanswered_for_more_than_4_hours_asks_for_attention(rosa):
    recent = CustomerFactory()
    inbound(rosa, "Hola", at=hours_ago(5))
    inbound(recent, "Hola", at=hours_ago(3))

    unanswered = alert(alerts.UNANSWERED)

    assert unanswered.count == 1
    assert [row.customer for row in unanswered.rows] == [rosa]
    assert "4 h" in str(unanswered.title)


def test_the_hours_come_from_the_setting(rosa, settings):
    settings.COLLECTIONS_UNANSWERED_HOURS = 2
    inbound(rosa, "Hola", at=hours_ago(3))

    assert alert(alerts.UNANSWERED).count == 1


def test_an_answered_message_asks_for_nothing(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(6))
    services.reply(
        selectors.conversation_for(cobranzas, rosa.pk),
        channel=messages.SMS,
        body="Buenos días",
        actor=cobranzas,
    )

    assert alert(alerts.UNANSWERED).count == 0


def test_the_panel_lists_the_first_rows_and_counts_them_all(db):
    for _n in range(alerts.ROWS + 2):
        promise(CustomerFactory())

    broken = alert(alerts.BROKEN)

    assert broken.count == alerts.ROWS + 2
    assert len(broken.rows) == alerts.ROWS


def _queries(n: int) -> int:
    for _i in range(n):
        customer = CustomerFactory()
        promise(customer)
        report(customer)
        inbound(customer, "Hola", at=hours_ago(6))
    with CaptureQueriesContext(connection) as captured:
        found = alerts.attention()
    assert all(a.count >= n for a in found)
    return len(captured.captured_queries)


def test_the_alerts_cost_six_queries_however_many_rows(db):
    assert _queries(1) == 6
    assert _queries(6) == 6


def test_the_inbox_shows_the_alerts_with_links_and_the_castigada_icon(agent_client, rosa):
    write_off(rosa)
    promise(rosa)

    page = agent_client.get(reverse("collections_app:conversation_list"))
    # The page loads its alerts after itself, from their own address.
    alerts_url = reverse("collections_app:conversation_alerts")
    assertContains(page, f'hx-get="{alerts_url}"')
    response = agent_client.get(alerts_url, headers={"HX-Request": "true"})

    assertContains(response, "Compromisos incumplidos (30 días)")
    assert "<html" not in response.content.decode()
    assertContains(agent_client.get(alerts_url), "<html", status_code=200)
    content = response.content.decode()
    section = content[content.index('id="alert-broken"') :]
    section = section[: section.index("</section>")]
    assert reverse("collections_app:conversation_detail", args=[rosa.pk]) in section
    assert 'title="Cartera castigada"' in section
    assert "S/ 945.60" in section


def test_a_customer_with_an_alert_and_no_messages_opens_an_empty_conversation(agent_client, rosa):
    report(rosa)

    response = agent_client.get(reverse("collections_app:conversation_detail", args=[rosa.pk]))

    assert response.status_code == 200
    assertContains(response, "Todavía no hay mensajes con este cliente.")
