"""The collections agents' screens: the four work lists, a payment to verify reviewed end to
end, and a customer's collections page, where an agent registers each event."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app import services
from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    EventSetting,
    MessageTemplate,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    PortalCode,
    Portfolio,
    ReportedPayment,
)
from credits import selectors as credit_selectors
from credits.models import Loan, Payment
from credits.services import payments as payment_services
from crm.models import Interaction, Message
from integrations import fakes
from integrations.errors import ProviderError
from integrations.models import OutboxMessage
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, TO_SETTLE, TODAY, pay
from tests.factories import CustomerFactory, UserFactory

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = receipts.PNG
HTMX = {"HX-Request": "true"}

LISTS = [
    "collections_app:reported_list",
    "collections_app:promise_list",
    "collections_app:link_list",
    "collections_app:callback_list",
]


def receipt(name="comprobante.pdf", content=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def report_of(debtor, loan, *, amount=INSTALLMENT, paid_on=None, **kwargs):
    """A payment to verify, as the portal records it."""
    kwargs.setdefault("method", ReportedPayment.Method.TRANSFER)
    kwargs.setdefault("origin", Origin.PORTAL)
    kwargs.setdefault("receipt", receipt())
    return services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=amount,
        paid_on=paid_on or TODAY - timedelta(days=1),
        actor=None,
        reference="OP-778899",
        **kwargs,
    )


def row(model, customer, loan, **fields):
    """A list's row written directly: the lists read what the services stored."""
    fields.setdefault("receivable_kind", "loan")
    fields.setdefault("receivable_id", loan.pk)
    fields.setdefault("receivable_code", loan.payment_code)
    return model.objects.create(customer=customer, **fields)


def reported_row(customer, loan, **fields):
    fields.setdefault("amount", Decimal("100.00"))
    fields.setdefault("paid_on", TODAY)
    fields.setdefault("method", ReportedPayment.Method.TRANSFER)
    fields.setdefault("receipt", "comprobantes/x/recibo.pdf")
    return row(ReportedPayment, customer, loan, **fields)


def promise_row(customer, loan, **fields):
    fields.setdefault("amount", Decimal("100.00"))
    fields.setdefault("promised_on", TODAY)
    return row(PaymentPromise, customer, loan, **fields)


def link_row(customer, loan, **fields):
    fields.setdefault("amount", Decimal("100.00"))
    fields.setdefault("currency", "PEN")
    fields.setdefault("concept", PaymentLink.Concept.TOTAL)
    fields.setdefault("provider", "mercadopago")
    fields.setdefault("status", PaymentLink.Status.ACTIVE)
    fields.setdefault("expires_at", timezone.now() + timedelta(hours=72))
    fields.setdefault("reference", f"PL-{PaymentLink.objects.count() + 1:020d}")
    fields.setdefault("url", "https://fake-gateway.invalid/mercadopago/checkout/x")
    return row(PaymentLink, customer, loan, **fields)


def callback_row(customer, **fields):
    fields.setdefault("phone", "+51987654321")
    return CallbackRequest.objects.create(customer=customer, **fields)


def to_settle(loan) -> Decimal:
    return credit_selectors.loan_balance(Loan.objects.get(pk=loan.pk), TODAY).to_settle


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def rows_of(response) -> list:
    return list(response.context["page"].object_list)


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def customer_url(customer) -> str:
    return reverse("collections_app:customer_collections", args=[customer.pk])


# --- Who may open what ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_people_without_the_collections_permissions_are_refused_every_screen(
    client, request, who, loan, debtor
):
    report = report_of(debtor, loan)
    client.force_login(request.getfixturevalue(who))
    urls = [reverse(name) for name in LISTS] + [
        reverse("collections_app:reported_detail", args=[report.pk]),
        reverse("collections_app:reported_receipt", args=[report.pk]),
        reverse("collections_app:reported_badge"),
        customer_url(debtor),
    ]

    for url in urls:
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_people_without_the_permissions_change_nothing(client, request, who, loan, debtor):
    report = report_of(debtor, loan)
    promise = promise_row(debtor, loan)
    callback = callback_row(debtor)
    payment = pay(loan, INSTALLMENT, TODAY)
    client.force_login(request.getfixturevalue(who))
    posts = {
        reverse("collections_app:reported_approve", args=[report.pk]): {"confirm": "yes"},
        reverse("collections_app:reported_reject", args=[report.pk]): {
            "reason": "x",
            "confirm": "yes",
        },
        reverse("collections_app:promise_cancel", args=[promise.pk]): {
            "reason": "x",
            "confirm": "yes",
        },
        reverse("collections_app:callback_close", args=[callback.pk]): {
            "status": "done",
            "outcome": "x",
        },
        reverse("collections_app:customer_payment_annul", args=[debtor.pk]): {
            "annul-payment": payment.pk,
            "annul-reason": "x",
            "confirm": "yes",
        },
        reverse("collections_app:customer_link_create", args=[debtor.pk]): {
            "link-debt": f"loan:{loan.pk}",
            "link-concept": "total",
            "link-provider": "mercadopago",
        },
    }

    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url

    report.refresh_from_db()
    assert report.status == ReportedPayment.Status.PENDING
    assert PaymentPromise.objects.get().status == PaymentPromise.Status.PENDING
    assert CallbackRequest.objects.get().status == CallbackRequest.Status.OPEN
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.APPLIED
    assert not PaymentLink.objects.exists()


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("collections_app:reported_list"))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("who", ["cobranzas", "supervisor"])
def test_collections_agents_and_supervisors_open_every_list(client, request, who, debtor):
    client.force_login(request.getfixturevalue(who))

    for name in [*LISTS]:
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(customer_url(debtor)).status_code == 200


def test_the_menu_offers_collections_to_its_agents_only(client, cobranzas, asesor, loan, debtor):
    report_of(debtor, loan)
    client.force_login(cobranzas)

    page = client.get(reverse("collections_app:promise_list"))
    badge = client.get(reverse("collections_app:reported_badge"), headers=HTMX)

    assertContains(page, reverse("collections_app:reported_list"))
    assertContains(page, reverse("collections_app:callback_list"))
    assertContains(page, reverse("collections_app:reported_badge"))
    assert '>1<span class="visually-hidden"> por verificar</span></span>' in badge.content.decode()
    client.force_login(asesor)
    assertNotContains(
        client.get(reverse("crm:customer_list")), reverse("collections_app:reported_list")
    )


def test_the_pending_count_is_one_query(agent_client, loan, debtor, django_assert_max_num_queries):
    for _ in range(3):
        reported_row(debtor, loan)
    agent_client.get(reverse("collections_app:reported_badge"))

    # The session (read from the cache where Redis is), the user, the count.
    with django_assert_max_num_queries(3):
        response = agent_client.get(reverse("collections_app:reported_badge"))

    assertContains(response, '>3<span class="visually-hidden"> por verificar</span>')


def test_the_customer_page_links_to_their_collections(client, cobranzas, asesor, debtor):
    client.force_login(cobranzas)
    assertContains(client.get(debtor.get_absolute_url()), customer_url(debtor))

    client.force_login(asesor)
    assertNotContains(client.get(debtor.get_absolute_url()), customer_url(debtor))


# --- Payments to verify: the list --------------------------------------------------------


def test_the_queue_shows_pending_payments_first_oldest_first(agent_client, loan, debtor):
    now = timezone.now()
    reviewed = reported_row(
        debtor, loan, status=ReportedPayment.Status.APPROVED, created_at=now - timedelta(days=9)
    )
    newer = reported_row(debtor, loan, created_at=now - timedelta(days=1))
    older = reported_row(debtor, loan, created_at=now - timedelta(days=3))

    response = agent_client.get(reverse("collections_app:reported_list"))

    assert rows_of(response) == [older, newer, reviewed]
    assertContains(response, "3 pagos informados")


def test_the_queue_filters_by_status_method_origin_and_dates(agent_client, loan, debtor):
    now = timezone.now()
    match = reported_row(
        debtor,
        loan,
        method=ReportedPayment.Method.DEPOSIT,
        origin=Origin.BOT,
        created_at=now - timedelta(days=2),
    )
    reported_row(debtor, loan, method=ReportedPayment.Method.CASH, origin=Origin.BOT)
    reported_row(debtor, loan, method=ReportedPayment.Method.DEPOSIT, origin=Origin.PORTAL)
    reported_row(
        debtor,
        loan,
        method=ReportedPayment.Method.DEPOSIT,
        origin=Origin.BOT,
        status=ReportedPayment.Status.REJECTED,
    )
    reported_row(
        debtor,
        loan,
        method=ReportedPayment.Method.DEPOSIT,
        origin=Origin.BOT,
        created_at=now - timedelta(days=40),
    )
    day = timezone.localdate(match.created_at).isoformat()

    response = agent_client.get(
        reverse("collections_app:reported_list"),
        {"status": "pending", "method": "deposit", "origin": "bot", "since": day, "until": day},
    )

    assert rows_of(response) == [match]


@pytest.mark.parametrize("typed", ["45678912", "huaman rosa", "L999000111"])
def test_the_queue_finds_a_payment_by_document_name_or_payment_code(
    agent_client, loan, debtor, typed
):
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán Torres", document_number="45678912")
    found = reported_row(rosa, loan, receivable_code="L999000111")
    reported_row(debtor, loan)

    response = agent_client.get(reverse("collections_app:reported_list"), {"q": typed})

    assert rows_of(response) == [found]


def test_the_queue_pages_by_25_and_says_how_many(agent_client, loan, debtor):
    for _ in range(26):
        reported_row(debtor, loan)

    first = agent_client.get(reverse("collections_app:reported_list"))
    second = agent_client.get(reverse("collections_app:reported_list"), {"page": 2})

    assert len(rows_of(first)) == 25
    assert len(rows_of(second)) == 1
    assertContains(first, "26 pagos informados")
    assertContains(first, "1 de 2")


@pytest.mark.parametrize("name", ["reported", "promise", "link", "callback"])
def test_an_htmx_search_gets_only_the_results(agent_client, name):
    response = agent_client.get(reverse(f"collections_app:{name}_list"), headers=HTMX)

    assertTemplateUsed(response, f"collections_app/partials/{name}_results.html")
    assert f"collections_app/{name}_list.html" not in [t.name for t in response.templates]
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    "query",
    [
        {"q": "a" * 101},
        {"since": "2026-06-10", "until": "2026-06-01"},
        {"since": "1900-01-01"},
        {"until": "9999-12-31"},
        {"since": "31/02/2026"},
        {"status": "<script>"},
        {"page": "-1"},
        {"q": "\x00"},
    ],
)
def test_bad_filters_get_the_page_with_errors_never_a_server_error(
    agent_client, loan, debtor, query
):
    reported_row(debtor, loan)

    response = agent_client.get(reverse("collections_app:reported_list"), query)

    assert response.status_code == 200


def test_a_bad_filter_says_what_is_wrong(agent_client):
    response = agent_client.get(
        reverse("collections_app:reported_list"), {"since": "2026-06-10", "until": "2026-06-01"}
    )

    assertContains(response, "La fecha final es anterior a la inicial.")


def test_a_filter_value_off_the_list_is_not_repeated_back(agent_client):
    response = agent_client.get(reverse("collections_app:link_list"), {"provider": "x\x00y"})

    # The project's wording of Django's own message (locale/es), which repeated it.
    assertContains(response, "Elija una opción de la lista.")
    assertNotContains(response, "x\x00y")


@pytest.mark.parametrize("name", LISTS)
def test_every_list_answers_awkward_query_strings(agent_client, name):
    awkward = ["²", "-1", "1e309", "9" * 40, "NaN", "0001-01-01", "<script>", "a" * 500]
    for value in awkward:
        query = dict.fromkeys(
            ["q", "status", "method", "origin", "provider", "view", "since", "until", "page"],
            value,
        )
        assert agent_client.get(reverse(name), query).status_code == 200, value
        assert agent_client.get(reverse(name), query, headers=HTMX).status_code == 200, value


AWKWARD_POSTS = {
    "customer_link_create": ["debt", "concept", "installment_number", "amount", "provider"],
    "customer_promise_create": ["debt", "amount", "promised_on", "notes"],
    "customer_report_create": ["debt", "amount", "paid_on", "method", "reference"],
    "customer_callback_create": ["phone", "preferred_at", "preferred_time"],
    "customer_payment_annul": ["payment", "reason"],
    "customer_agreement_create": ["debt", "option", "provider", "payer_email"],
}


@pytest.mark.parametrize("name", AWKWARD_POSTS)
def test_every_customer_form_answers_awkward_input_without_a_server_error(
    client, supervisor, loan, debtor, name
):
    client.raise_request_exception = False
    client.force_login(supervisor)
    prefix = name.split("_")[1].replace("payment", "annul")
    awkward = ["²", "-1", "1e309", "9" * 40, "NaN", "0001-01-01", "9999-12-31T23:59", "\x00"]
    awkward += ["<script>", "a" * 5000, "loan:-1", "loan:" + "9" * 30, "1-2"]
    url = reverse(f"collections_app:{name}", args=[debtor.pk])

    for value in awkward:
        data = {f"{prefix}-{field}": value for field in AWKWARD_POSTS[name]}
        response = client.post(url, data)
        assert response.status_code == 200, value


# --- Fixed query counts ------------------------------------------------------------------


def _queries(client, url) -> int:
    """Count the queries of one request but the session's (none where Redis keeps it)."""
    client.get(url)  # the permission cache filled (new people empty it)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum(1 for q in queries.captured_queries if "django_session" not in q["sql"])


@pytest.mark.parametrize(
    ("name", "make"),
    [
        (
            "collections_app:reported_list",
            lambda c, loan, who: reported_row(c, loan, reviewed_by=who),
        ),
        ("collections_app:promise_list", lambda c, loan, who: promise_row(c, loan, created_by=who)),
        ("collections_app:link_list", lambda c, loan, who: link_row(c, loan, created_by=who)),
        ("collections_app:callback_list", lambda c, loan, who: callback_row(c, closed_by=who)),
    ],
)
def test_a_list_costs_the_same_queries_however_many_rows(agent_client, loan, name, make):
    url = reverse(name) + "?q=a"
    make(CustomerFactory(first_name="Ana"), loan, UserFactory())
    one = _queries(agent_client, url)
    for _ in range(6):
        make(CustomerFactory(first_name="Ana"), loan, UserFactory())

    # The user, the count, the page (the promises: and the tabs' counts).
    expected = 4 if name == "collections_app:promise_list" else 3
    many = _queries(agent_client, url)

    assert len(rows_of(agent_client.get(url))) == 7
    assert one == many == expected


def test_the_customer_page_costs_the_same_queries_however_many_events(agent_client, loan, debtor):
    AgreementRule.objects.create(name="Hasta 3 cuotas", max_installments=3)
    url = customer_url(debtor)
    one = _queries(agent_client, url)
    for _ in range(4):
        reported_row(debtor, loan, reviewed_by=UserFactory())
        promise_row(debtor, loan, created_by=UserFactory())
        link_row(debtor, loan, created_by=UserFactory())
        callback_row(debtor, closed_by=UserFactory())
        pay(loan, Decimal("10.00"), TODAY)

    # The user, the customer, their loans and installments, their written-off campaigns
    # (recovery's receivable kind), the payments that may be annulled, the loans holding a
    # credit balance, and the five kinds of events (the agreement rules: the process's copy).
    assert _queries(agent_client, url) == one == 12


# --- Payments to verify: review ----------------------------------------------------------


def test_the_detail_shows_the_receipt_and_the_debt(agent_client, loan, debtor):
    report = report_of(debtor, loan)

    response = agent_client.get(reverse("collections_app:reported_detail", args=[report.pk]))

    receipt_url = reverse("collections_app:reported_receipt", args=[report.pk])
    assertContains(response, f'<iframe loading="lazy" src="{receipt_url}"')
    # A phone's browser shows no PDF in a frame: a button opens it there.
    assertContains(response, f'id="receipt-open" href="{receipt_url}"')
    assertContains(response, "10,970.27")
    assertNotContains(response, "Aceptar el pago en exceso")


def test_an_image_receipt_shows_inline(agent_client, loan, debtor):
    report = report_of(debtor, loan, receipt=receipt("foto.png", PNG, "image/png"))

    response = agent_client.get(reverse("collections_app:reported_detail", args=[report.pk]))

    receipt_url = reverse("collections_app:reported_receipt", args=[report.pk])
    assertContains(response, f'<img src="{receipt_url}"')


def test_the_receipt_is_served_only_to_who_may_see_the_payment(
    client, cobranzas, asesor, outsider, loan, debtor
):
    report = report_of(debtor, loan)
    url = reverse("collections_app:reported_receipt", args=[report.pk])

    anonymous = client.get(url)
    client.force_login(asesor)
    refused = client.get(url)
    client.force_login(outsider)
    outsider_refused = client.get(url)
    client.force_login(cobranzas)
    served = client.get(url)

    assert anonymous.status_code == 302
    assert refused.status_code == 403
    assert outsider_refused.status_code == 403
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PDF
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"].startswith("inline")
    # Framed by the detail page only.
    assert served["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in served["Content-Security-Policy"]


def test_approving_asks_first_and_then_applies_the_payment(agent_client, loan, debtor):
    debtor.email = "deudor@example.com"
    debtor.save()
    report = report_of(debtor, loan)
    before = to_settle(loan)
    url = reverse("collections_app:reported_approve", args=[report.pk])

    asked = agent_client.post(url)
    report.refresh_from_db()
    assert report.status == ReportedPayment.Status.PENDING
    assertTemplateUsed(asked, "collections_app/confirm.html")
    assertContains(asked, 'name="confirm" value="yes"')

    done = agent_client.post(url, {"confirm": "yes"}, follow=True)

    report.refresh_from_db()
    assert report.status == ReportedPayment.Status.APPROVED
    assert Payment.objects.get(pk=report.payment_id).amount == INSTALLMENT
    assert to_settle(loan) == before - INSTALLMENT
    assert OutboxMessage.objects.filter(payload__to="deudor@example.com").exists()
    summaries = list(Interaction.objects.filter(customer=debtor).values_list("summary", flat=True))
    assert any(f"#{report.pk} aprobado" in s for s in summaries)
    assert any("Su pago fue verificado" in s for s in summaries)
    assert shown(done) == [
        f"Pago verificado y aplicado al crédito {loan.payment_code}. "
        "Aviso al cliente en cola (correo)."
    ]


def test_approving_for_a_customer_without_email_says_nobody_was_told(agent_client, loan, debtor):
    debtor.email = ""
    debtor.save()
    report = report_of(debtor, loan)

    done = agent_client.post(
        reverse("collections_app:reported_approve", args=[report.pk]),
        {"confirm": "yes"},
        follow=True,
    )

    assert shown(done) == [
        f"Pago verificado y aplicado al crédito {loan.payment_code}. "
        "No se avisó al cliente: no tiene correo."
    ]


def test_an_amount_above_the_debt_needs_the_overpayment_accepted(agent_client, loan, debtor):
    report = report_of(debtor, loan, amount=TO_SETTLE + Decimal("50.00"), paid_more=True)
    url = reverse("collections_app:reported_approve", args=[report.pk])

    page = agent_client.get(reverse("collections_app:reported_detail", args=[report.pk]))
    refused = agent_client.post(url, {"confirm": "yes"})
    accepted = agent_client.post(url, {"confirm": "yes", "accept_overpayment": "on"})

    assertContains(page, "Aceptar el pago en exceso")
    assert refused.status_code == 200
    assertContains(refused, "supera lo que se debe")
    assert accepted.status_code == 302
    assert Payment.objects.get().overpaid == Decimal("50.00")


def test_rejecting_needs_a_reason(agent_client, loan, debtor):
    report = report_of(debtor, loan)

    response = agent_client.post(
        reverse("collections_app:reported_reject", args=[report.pk]),
        {"reason": "  ", "confirm": "yes"},
    )

    assert response.status_code == 200
    assertContains(response, "Indique el motivo.")
    report.refresh_from_db()
    assert report.status == ReportedPayment.Status.PENDING


def test_rejecting_asks_first_then_refuses_and_tells_the_debtor(agent_client, loan, debtor):
    debtor.email = "deudor@example.com"
    debtor.save()
    report = report_of(debtor, loan)
    before = to_settle(loan)
    url = reverse("collections_app:reported_reject", args=[report.pk])

    asked = agent_client.post(url, {"reason": "El comprobante es ilegible"})
    assertContains(asked, "El comprobante es ilegible")
    assertTemplateUsed(asked, "collections_app/confirm.html")
    done = agent_client.post(
        url, {"reason": "El comprobante es ilegible", "confirm": "yes"}, follow=True
    )

    report.refresh_from_db()
    assert report.status == ReportedPayment.Status.REJECTED
    assert report.reject_reason == "El comprobante es ilegible"
    assert to_settle(loan) == before
    assert not Payment.objects.exists()
    message = OutboxMessage.objects.get(payload__to="deudor@example.com")
    assert "ilegible" in message.payload["body"]
    assert shown(done) == ["Pago rechazado. Aviso al cliente en cola (correo)."]


def test_rejecting_for_a_customer_who_opted_out_says_so(agent_client, loan, debtor):
    debtor.email = "deudor@example.com"
    debtor.has_opted_out = True
    debtor.save()
    report = report_of(debtor, loan)

    done = agent_client.post(
        reverse("collections_app:reported_reject", args=[report.pk]),
        {"reason": "No figura", "confirm": "yes"},
        follow=True,
    )

    assert shown(done) == ["Pago rechazado. No se avisó al cliente: pidió no ser contactado."]
    assert not OutboxMessage.objects.filter(payload__to="deudor@example.com").exists()


def test_a_payment_already_reviewed_cannot_be_reviewed_again(agent_client, loan, debtor):
    report = report_of(debtor, loan)
    url = reverse("collections_app:reported_approve", args=[report.pk])
    agent_client.post(url, {"confirm": "yes"})

    again = agent_client.post(url, {"confirm": "yes"})

    assert again.status_code == 200
    assertContains(again, "Este pago ya fue revisado.")
    assert Payment.objects.count() == 1


# --- Promises ----------------------------------------------------------------------------


def test_the_promise_tabs_show_due_today_broken_and_in_course(agent_client, loan, debtor):
    today = promise_row(debtor, loan, promised_on=TODAY)
    later = promise_row(debtor, loan, promised_on=TODAY + timedelta(days=5))
    broken = promise_row(
        debtor, loan, promised_on=TODAY - timedelta(days=5), status=PaymentPromise.Status.BROKEN
    )
    promise_row(debtor, loan, status=PaymentPromise.Status.CANCELLED)
    url = reverse("collections_app:promise_list")

    def tab(view):
        return rows_of(agent_client.get(url, {"view": view}))

    assert tab("hoy") == [today]
    assert tab("incumplidos") == [broken]
    assert tab("vigentes") == [today, later]
    assert len(tab("")) == 4
    assertContains(agent_client.get(url), "Vencen hoy")


def test_the_promise_list_finds_a_customer(agent_client, loan, debtor):
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán")
    found = promise_row(rosa, loan)
    promise_row(debtor, loan)

    response = agent_client.get(reverse("collections_app:promise_list"), {"q": "huaman"})

    assert rows_of(response) == [found]


def test_an_agent_registers_a_promise(agent_client, loan, debtor):
    response = agent_client.post(
        reverse("collections_app:customer_promise_create", args=[debtor.pk]),
        {
            "promise-debt": f"loan:{loan.pk}",
            "promise-amount": "500.00",
            "promise-promised_on": (TODAY + timedelta(days=7)).isoformat(),
            "promise-notes": "Cobra el viernes",
        },
        follow=True,
    )

    promise = PaymentPromise.objects.get()
    assert promise.amount == Decimal("500.00")
    assert promise.origin == Origin.AGENT
    assert promise.notes == "Cobra el viernes"
    # The message names the currency and the debt, not a bare number after the amount.
    day = promise.promised_on.strftime("%d/%m/%Y")
    assert shown(response)[0] == (
        f"Compromiso de pago de S/ 500.00 para el {day} registrado al crédito {loan.payment_code}."
    )


@pytest.mark.parametrize(
    ("amount", "day", "error"),
    [
        ("9" * 20, 7, "Asegúrese de que este valor es menor o igual a"),
        ("1e309", 7, "Introduzca un número"),  # no exponents: lib.fields
        ("NaN", 7, "Introduzca un número"),
        ("-5", 7, "mayor o igual a 0"),
        ("500", 90, "hasta 60 días"),
        ("500", -1, "no puede ser pasada"),
        ("99999.00", 7, "supera la deuda"),
    ],
)
def test_a_bad_promise_gets_the_form_with_its_error(agent_client, loan, debtor, amount, day, error):
    response = agent_client.post(
        reverse("collections_app:customer_promise_create", args=[debtor.pk]),
        {
            "promise-debt": f"loan:{loan.pk}",
            "promise-amount": amount,
            "promise-promised_on": (TODAY + timedelta(days=day)).isoformat(),
        },
    )

    assert response.status_code == 200
    assertContains(response, error)
    assert not PaymentPromise.objects.exists()


def test_cancelling_a_promise_needs_a_reason_and_a_confirmation(agent_client, loan, debtor):
    promise = promise_row(debtor, loan, promised_on=TODAY + timedelta(days=3))
    url = reverse("collections_app:promise_cancel", args=[promise.pk])

    missing = agent_client.post(url, {"reason": ""})
    asked = agent_client.post(url, {"reason": "Pagó por ventanilla"})
    promise.refresh_from_db()
    assert promise.status == PaymentPromise.Status.PENDING
    done = agent_client.post(url, {"reason": "Pagó por ventanilla", "confirm": "yes"}, follow=True)

    assert missing.status_code == 200
    assertContains(missing, "Indique el motivo.")
    assertTemplateUsed(asked, "collections_app/confirm.html")
    promise.refresh_from_db()
    assert promise.status == PaymentPromise.Status.CANCELLED
    assert shown(done) == [f"Compromiso de pago del {promise.promised_on:%d/%m/%Y} anulado."]
    assert Interaction.objects.filter(customer=debtor, summary__contains="Pagó por ventanilla")


def test_a_promise_no_longer_in_course_cannot_be_cancelled(agent_client, loan, debtor):
    promise = promise_row(debtor, loan, status=PaymentPromise.Status.KEPT)

    response = agent_client.post(
        reverse("collections_app:promise_cancel", args=[promise.pk]),
        {"reason": "x", "confirm": "yes"},
    )

    assert response.status_code == 200
    assertContains(response, "ya no está vigente")
    promise.refresh_from_db()
    assert promise.status == PaymentPromise.Status.KEPT


@pytest.mark.parametrize(
    ("sent", "lands_on"),
    [
        ("/cobranzas/compromisos/?estado=pending", "/cobranzas/compromisos/?estado=pending"),
        # Not a path of this site: the list. "²" or "lista" once failed as a view's name.
        ("²", "/cobranzas/compromisos/"),
        ("lista", "/cobranzas/compromisos/"),
        ("https://elsewhere.example/", "/cobranzas/compromisos/"),
        ("//elsewhere.example/", "/cobranzas/compromisos/"),
    ],
)
def test_after_cancelling_a_promise_only_a_path_of_this_site_is_followed(
    agent_client, loan, debtor, sent, lands_on
):
    promise = promise_row(debtor, loan, promised_on=TODAY + timedelta(days=3))

    response = agent_client.post(
        reverse("collections_app:promise_cancel", args=[promise.pk]),
        {"reason": "Pagó por ventanilla", "confirm": "yes", "next": sent},
    )

    assert response.status_code == 302
    assert response["Location"] == lands_on


# --- Payment links -----------------------------------------------------------------------


def test_an_agent_creates_a_link_through_the_gateway(agent_client, loan, debtor):
    response = agent_client.post(
        reverse("collections_app:customer_link_create", args=[debtor.pk]),
        {
            "link-debt": f"loan:{loan.pk}",
            "link-concept": "total",
            "link-provider": "mercadopago",
            "link-payer_email": "rosa@example.com",
        },
        follow=True,
    )

    link = PaymentLink.objects.get()
    checkout = fakes.fake_gateway("mercadopago").checkouts[0]
    assert link.status == PaymentLink.Status.ACTIVE
    assert link.origin == Origin.AGENT
    assert link.amount == checkout.amount == TO_SETTLE
    assert checkout.payer_email == "rosa@example.com"
    assert shown(response)[0].startswith("Link de pago creado: S/ 10,970.27 por MercadoPago")
    assertContains(response, link.url)


def test_a_link_for_one_installment_charges_it(agent_client, loan, debtor):
    agent_client.post(
        reverse("collections_app:customer_link_create", args=[debtor.pk]),
        {
            "link-debt": f"loan:{loan.pk}",
            "link-concept": "installment",
            "link-installment_number": "2",
            "link-provider": "clear",
        },
    )

    link = PaymentLink.objects.get()
    assert (link.provider, link.installment_number, link.amount) == ("clear", 2, INSTALLMENT)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"link-concept": "custom", "link-amount": "20000.00"}, "El monto debe estar entre"),
        (
            {"link-concept": "custom", "link-amount": "9" * 30},
            "Asegúrese de que este valor es menor o igual a",
        ),
        ({"link-concept": "custom"}, "Indique el monto a pagar."),
        ({"link-concept": "installment"}, "Indique el número de la cuota."),
        ({"link-concept": "total", "link-debt": "loan:999999"}, "Elija una deuda del cliente"),
        ({"link-concept": "total", "link-provider": "paypal"}, "Elija una opción de la lista."),
    ],
)
def test_a_bad_link_gets_the_form_with_its_error(agent_client, loan, debtor, data, error):
    payload = {"link-debt": f"loan:{loan.pk}", "link-provider": "mercadopago", **data}

    response = agent_client.post(
        reverse("collections_app:customer_link_create", args=[debtor.pk]), payload
    )

    assert response.status_code == 200
    assertContains(response, error)
    assert not PaymentLink.objects.exists()


def test_the_link_list_filters_by_status_provider_origin_and_search(agent_client, loan, debtor):
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán")
    open_link = link_row(rosa, loan, provider="clear", origin=Origin.BOT)
    past = link_row(debtor, loan, expires_at=timezone.now() - timedelta(hours=1))
    paid = link_row(debtor, loan, status=PaymentLink.Status.PAID)
    url = reverse("collections_app:link_list")

    assert rows_of(agent_client.get(url, {"status": "active"})) == [open_link]
    assert rows_of(agent_client.get(url, {"status": "expired"})) == [past]
    assert rows_of(agent_client.get(url, {"status": "paid"})) == [paid]
    assert rows_of(agent_client.get(url, {"provider": "clear"})) == [open_link]
    assert rows_of(agent_client.get(url, {"origin": "bot"})) == [open_link]
    assert rows_of(agent_client.get(url, {"q": "huaman"})) == [open_link]
    assert rows_of(agent_client.get(url, {"q": open_link.reference})) == [open_link]
    page = agent_client.get(url)
    assertContains(page, f'data-copy="{open_link.url}"')
    assertContains(page, "Vencido")


# --- Call-back requests ------------------------------------------------------------------


def test_the_callback_list_shows_open_requests_first(agent_client, debtor):
    now = timezone.now()
    closed = callback_row(
        debtor, status=CallbackRequest.Status.DONE, created_at=now - timedelta(days=5)
    )
    newer = callback_row(debtor, created_at=now - timedelta(hours=1))
    older = callback_row(debtor, created_at=now - timedelta(hours=5))

    response = agent_client.get(reverse("collections_app:callback_list"))

    assert rows_of(response) == [older, newer, closed]


def test_the_callback_list_filters_and_finds_a_phone(agent_client, debtor):
    found = callback_row(debtor, phone="+51911222333", origin=Origin.PORTAL)
    callback_row(debtor, phone="+51944555666", origin=Origin.BOT)
    url = reverse("collections_app:callback_list")

    assert rows_of(agent_client.get(url, {"q": "911222333"})) == [found]
    assert rows_of(agent_client.get(url, {"origin": "portal"})) == [found]
    assert len(rows_of(agent_client.get(url, {"status": "open"}))) == 2
    assert rows_of(agent_client.get(url, {"status": "done"})) == []


def test_closing_a_callback_needs_what_happened(agent_client, cobranzas, debtor):
    callback = callback_row(debtor)
    url = reverse("collections_app:callback_close", args=[callback.pk])

    missing = agent_client.post(url, {"status": "done", "outcome": ""})
    done = agent_client.post(
        url, {"status": "cancelled", "outcome": "Número equivocado"}, follow=True
    )

    assert missing.status_code == 200
    assertContains(missing, "Indique qué pasó.")
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.CANCELLED
    assert callback.outcome == "Número equivocado"
    assert callback.closed_by == cobranzas
    assert shown(done)[0].endswith("cerrado como «Descartado».")


def test_an_agent_asks_for_a_callback_for_the_customer(agent_client, debtor):
    bad = agent_client.post(
        reverse("collections_app:customer_callback_create", args=[debtor.pk]),
        {"callback-phone": "12"},
    )
    good = agent_client.post(
        reverse("collections_app:customer_callback_create", args=[debtor.pk]),
        {"callback-phone": "+51 987 654 321", "callback-preferred_time": "mañanas"},
        follow=True,
    )

    assert bad.status_code == 200
    assertContains(bad, "Indique un teléfono válido")
    callback = CallbackRequest.objects.get()
    assert (callback.phone, callback.origin) == ("+51987654321", Origin.AGENT)
    assert shown(good) == ["Pedido de llamada registrado al +51987654321."]
    again = agent_client.post(
        reverse("collections_app:customer_callback_create", args=[debtor.pk]),
        {"callback-phone": "987654321"},
        follow=True,
    )
    assert shown(again) == [
        f"Ya hay un pedido de llamada abierto al +51987654321 (#{callback.pk}): "
        "no se registró otro."
    ]
    assert CallbackRequest.objects.count() == 1


# --- A customer's collections page -------------------------------------------------------


def test_the_customer_page_shows_the_debts_and_the_events(agent_client, loan, debtor):
    report_of(debtor, loan)
    promise_row(debtor, loan, notes="Promete el lunes")
    callback_row(debtor, preferred_time="tardes")

    response = agent_client.get(customer_url(debtor))

    assertContains(response, loan.payment_code)
    assertContains(response, "10,970.27")  # settles it today
    assertContains(response, "4,728.00")  # overdue
    assertContains(response, "Promete el lunes")
    assertContains(response, "tardes")
    assertContains(response, "Por verificar")


def test_an_agent_registers_a_reported_payment_with_its_receipt(agent_client, loan, debtor):
    response = agent_client.post(
        reverse("collections_app:customer_report_create", args=[debtor.pk]),
        {
            "report-debt": f"loan:{loan.pk}",
            "report-amount": "945.60",
            "report-paid_on": (TODAY - timedelta(days=2)).isoformat(),
            "report-method": "deposit",
            "report-reference": "DEP-1",
            "report-receipt": receipt(),
        },
        follow=True,
    )

    report = ReportedPayment.objects.get()
    assert (report.amount, report.origin, report.status) == (
        INSTALLMENT,
        Origin.AGENT,
        ReportedPayment.Status.PENDING,
    )
    assert shown(response)[0] == (
        f"Pago informado de S/ 945.60 registrado al crédito {loan.payment_code}: queda por "
        f"verificar (#{report.pk})."
    )
    assert OutboxMessage.objects.filter(payload__to="cobranzas@cartera.test").exists()


def test_a_reported_payment_sent_twice_says_it_was_reported_already(
    agent_client, loan, debtor, time_machine
):
    # The repeat was taken as the pending one, but the page said "registrado" again.
    url = reverse("collections_app:customer_report_create", args=[debtor.pk])

    def send():
        return agent_client.post(
            url,
            {
                "report-debt": f"loan:{loan.pk}",
                "report-amount": "945.60",
                "report-paid_on": (TODAY - timedelta(days=2)).isoformat(),
                "report-method": "deposit",
                "report-reference": "DEP-1",
                "report-receipt": receipt(),
            },
            follow=True,
        )

    time_machine.move_to(timezone.now(), tick=False)
    send()
    time_machine.shift(timedelta(seconds=5))
    again = send()

    report = ReportedPayment.objects.get()
    assert shown(again)[0] == (
        f"Ese pago de S/ 945.60 ya se informó al crédito {loan.payment_code} hace un momento "
        f"y queda por verificar (#{report.pk}): no se registró otro."
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"report-paid_on": (TODAY + timedelta(days=1)).isoformat()}, "no puede ser futura"),
        ({"report-paid_on": "2020-01-01"}, "más de un año"),
        ({"report-amount": "1" * 16}, "Asegúrese de que este valor es menor o igual a"),
        ({"report-receipt": receipt("virus.exe", b"MZ", "application/octet-stream")}, "PDF"),
        ({"report-receipt": receipt("falso.pdf", b"MZ not a pdf")}, "no es un PDF válido"),
        ({"report-receipt": ""}, "Adjunte el comprobante."),
    ],
)
def test_a_bad_reported_payment_gets_the_form_with_its_error(
    agent_client, loan, debtor, changes, error
):
    data = {
        "report-debt": f"loan:{loan.pk}",
        "report-amount": "945.60",
        "report-paid_on": TODAY.isoformat(),
        "report-method": "deposit",
        "report-receipt": receipt(),
        **changes,
    }

    response = agent_client.post(
        reverse("collections_app:customer_report_create", args=[debtor.pk]), data
    )

    assert response.status_code == 200
    assertContains(response, error)
    assertNotContains(response, "Contáctenos")  # the debtor's advice, not the agent's
    assert not ReportedPayment.objects.exists()


def test_annulling_a_payment_asks_first_and_restores_the_balance_to_the_cent(
    agent_client, loan, debtor
):
    before = to_settle(loan)
    payment = pay(loan, Decimal("1234.56"), TODAY)
    assert to_settle(loan) == before - Decimal("1234.56")
    url = reverse("collections_app:customer_payment_annul", args=[debtor.pk])
    data = {"annul-payment": payment.pk, "annul-reason": "Cheque sin fondos"}

    asked = agent_client.post(url, data)
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.APPLIED
    done = agent_client.post(url, {**data, "confirm": "yes"}, follow=True)

    assertTemplateUsed(asked, "collections_app/confirm.html")
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.ANNULLED
    assert to_settle(loan) == before
    assert shown(done)[0].startswith(f"Pago #{payment.pk} de S/ 1,234.56 anulado")


def test_an_annulment_sent_twice_names_the_first_and_annuls_nothing_more(
    agent_client, loan, debtor, make_active_loan
):
    standing = pay(loan, Decimal("50.00"), TODAY)
    payment = pay(loan, Decimal("100.00"), TODAY)
    strangers = make_active_loan()
    other = pay(strangers, Decimal("1.00"), TODAY)
    payment_services.annul_payment(payment=other, actor=None, reason="x")
    url = reverse("collections_app:customer_payment_annul", args=[debtor.pk])
    data = {"annul-payment": payment.pk, "annul-reason": "Duplicado", "confirm": "yes"}
    agent_client.post(url, data)

    again = agent_client.post(url, data)
    foreign = agent_client.post(url, {**data, "annul-payment": other.pk})

    assert again.status_code == 200
    assertContains(again, f"El pago #{payment.pk} ya fue anulado el ")
    assertContains(again, "no se anuló otra vez.")
    # Another customer's annulled payment is not named here.
    assertContains(foreign, "Elija un pago del cliente de la lista.")
    assertNotContains(foreign, "ya fue anulado")
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.ANNULLED
    assert Payment.objects.get(pk=standing.pk).status == Payment.Status.APPLIED


def test_an_annulment_sent_twice_of_the_only_payment_still_says_so(agent_client, loan, debtor):
    payment = pay(loan, Decimal("100.00"), TODAY)
    url = reverse("collections_app:customer_payment_annul", args=[debtor.pk])
    data = {"annul-payment": payment.pk, "annul-reason": "Duplicado", "confirm": "yes"}
    agent_client.post(url, data)

    again = agent_client.post(url, data)

    # The form is not drawn (no payment left to annul); the message is.
    assertContains(again, "El cliente no tiene pagos aplicados.")
    assertContains(again, f"El pago #{payment.pk} ya fue anulado el ")


def test_annulling_needs_a_reason_and_a_payment_of_this_customer(
    agent_client, loan, debtor, make_active_loan
):
    payment = pay(loan, Decimal("100.00"), TODAY)
    strangers = make_active_loan()
    other = pay(strangers, Decimal("1.00"), TODAY)
    url = reverse("collections_app:customer_payment_annul", args=[debtor.pk])

    missing = agent_client.post(
        url, {"annul-payment": payment.pk, "annul-reason": "", "confirm": "yes"}
    )
    foreign = agent_client.post(
        url, {"annul-payment": other.pk, "annul-reason": "x", "confirm": "yes"}
    )

    assert missing.status_code == 200
    assertContains(missing, "Indique el motivo de la anulación.")
    assert foreign.status_code == 200
    assertContains(foreign, "Elija un pago del cliente de la lista.")
    assert Payment.objects.filter(status=Payment.Status.APPLIED).count() == 2


@pytest.fixture
def late_loan(loan):
    from credits.services import delinquency

    loan.late_annual_rate = Decimal("36")
    loan.days_past_due = 134
    loan.save()
    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    return Loan.objects.get(pk=loan.pk)


def test_an_agent_offers_an_agreement_and_its_down_payment_link(agent_client, late_loan):
    debtor = late_loan.customer
    AgreementRule.objects.create(
        name="Hasta 3 cuotas",
        max_installments=3,
        min_down_payment_percent=Decimal("20"),
        late_interest_discount_percent=Decimal("50"),
    )
    rule = AgreementRule.objects.get()

    page = agent_client.get(customer_url(debtor))
    assertContains(page, f'value="{rule.pk}-3"')
    done = agent_client.post(
        reverse("collections_app:customer_agreement_create", args=[debtor.pk]),
        {
            "agreement-debt": f"loan:{late_loan.pk}",
            "agreement-option": f"{rule.pk}-3",
            "agreement-provider": "mercadopago",
        },
        follow=True,
    )

    agreement = PaymentAgreement.objects.get()
    link = PaymentLink.objects.get()
    assert agreement.installments == 3
    assert link.agreement == agreement
    assert link.amount == agreement.down_payment
    assert shown(done)[0].startswith("Convenio en 3 cuotas registrado")


def test_an_agreement_whose_link_fails_is_withdrawn_so_another_may_be_offered(
    agent_client, late_loan, monkeypatch
):
    debtor = late_loan.customer
    rule = AgreementRule.objects.create(name="Hasta 2 cuotas", max_installments=2)
    data = {
        "agreement-debt": f"loan:{late_loan.pk}",
        "agreement-option": f"{rule.pk}-2",
        "agreement-provider": "mercadopago",
    }
    gateway = fakes.fake_gateway("mercadopago")

    def down(request):
        raise ProviderError("servicio no disponible")

    monkeypatch.setattr(gateway, "create_checkout", down)
    failed = agent_client.post(
        reverse("collections_app:customer_agreement_create", args=[debtor.pk]), data
    )
    monkeypatch.undo()
    retried = agent_client.post(
        reverse("collections_app:customer_agreement_create", args=[debtor.pk]), data
    )

    assert failed.status_code == 200
    assertContains(failed, "servicio no disponible")
    assert retried.status_code == 302
    assert sorted(PaymentAgreement.objects.values_list("status", flat=True)) == [
        PaymentAgreement.Status.CANCELLED,
        PaymentAgreement.Status.PENDING,
    ]


def test_an_agreement_not_offered_is_refused(agent_client, loan, debtor):
    response = agent_client.post(
        reverse("collections_app:customer_agreement_create", args=[debtor.pk]),
        {
            "agreement-debt": f"loan:{loan.pk}",
            "agreement-option": "999-2",
            "agreement-provider": "mercadopago",
        },
    )

    assert response.status_code == 200
    assertContains(response, "no está disponible")
    assert not PaymentAgreement.objects.exists()


def test_an_unknown_customer_is_not_found(agent_client):
    assert agent_client.get(customer_url(CustomerFactory.build(pk=987654))).status_code == 404


# --- Admin -------------------------------------------------------------------------------


def test_admin_shows_the_events_read_only_and_never_a_portal_codes_hash(admin_client, debtor):
    code = PortalCode.objects.create(
        customer=debtor,
        code_hash="f" * 64,
        channel="email",
        sent_to="r***@example.com",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    models = ["paymentlink", "reportedpayment", "paymentpromise", "paymentagreement"]
    models += ["callbackrequest", "portalcode"]

    for model in models:
        changelist = admin_client.get(reverse(f"admin:collections_app_{model}_changelist"))
        assert changelist.status_code == 200, model
        assert admin_client.get(reverse(f"admin:collections_app_{model}_add")).status_code == 403
    detail = admin_client.get(reverse("admin:collections_app_portalcode_change", args=[code.pk]))

    assert detail.status_code == 200
    assertNotContains(detail, "f" * 64)
    assertContains(detail, "Intentos")


def test_admins_configure_agreement_rules_in_spanish(admin_client):
    page = admin_client.get(reverse("admin:collections_app_agreementrule_add"))
    response = admin_client.post(
        reverse("admin:collections_app_agreementrule_add"),
        {
            "name": "Hasta 6 cuotas",
            "max_installments": "6",
            "min_down_payment_percent": "15",
            "late_interest_discount_percent": "30",
            "min_days_past_due": "30",
            "days_between_installments": "30",
            "is_active": "on",
        },
    )

    for spanish in ("Cuotas máximas", "Pie mínimo", "Días entre cuotas", "Reglas de convenio"):
        assertContains(page, spanish)
    assert response.status_code == 302
    assert AgreementRule.objects.get().max_installments == 6


# --- On a phone --------------------------------------------------------------------------

# The elements that stick out to the right, to say which one made the page too wide.
WIDER_THAN_THE_SCREEN = """
Array.from(document.querySelectorAll("*"))
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
  .map((e) => `${e.tagName}.${e.className}#${e.id}`)
  .slice(-8)
"""


def test_the_agents_screens_fit_a_phone(page, live_server, roles, loan, debtor):
    from tests.browser.pages import sign_in
    from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll

    UserFactory(username="cobradora", role="Cobranzas")
    debtor.email = "una.direccion.de.correo.bastante.larga@example.com"
    debtor.save()
    report = report_of(debtor, loan, receipt=receipt("foto.png", PNG, "image/png"))
    promise_row(debtor, loan, notes="Cobra su sueldo el último viernes del mes")
    link_row(debtor, loan, url="https://fake-gateway.invalid/mercadopago/checkout/" + "x" * 80)
    callback_row(debtor, preferred_time="después de las seis de la tarde")
    paths = [reverse(name) for name in LISTS] + [
        reverse("collections_app:reported_detail", args=[report.pk]),
        customer_url(debtor),
    ]
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "cobradora")

    wide = []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        try:
            assert_no_sideways_scroll(page)
        except AssertionError as exc:
            culprits = page.evaluate(WIDER_THAN_THE_SCREEN)
            wide.append(str(exc) + "\n" + "\n".join(culprits))

    assert wide == [], "\n".join(wide)


def test_a_template_set_in_eventos_replaces_the_built_in_email_once(
    agent_client, loan, debtor, django_capture_on_commit_callbacks
):
    debtor.email = "deudor@example.com"
    debtor.save()
    template = MessageTemplate.objects.create(
        name="Pago verificado (WhatsApp)",
        channel=MessageTemplate.Channel.WHATSAPP,
        body="Hola {nombre}, verificamos su pago de {monto_pago}.",
        whatsapp_name="pago_verificado",
    )
    EventSetting.objects.create(
        portfolio=Portfolio.CURRENT, event=EventSetting.Event.VERIFIED, template=template
    )
    report = report_of(debtor, loan)

    with django_capture_on_commit_callbacks(execute=True):
        done = agent_client.post(
            reverse("collections_app:reported_approve", args=[report.pk]),
            {"confirm": "yes"},
            follow=True,
        )

    # The configured WhatsApp, not the built-in e-mail, and only once although the
    # payment event announced after the commit asks for it too.
    (message,) = Message.objects.filter(customer=debtor, direction="outbound")
    assert message.channel == "whatsapp"
    assert message.origin == "collections.event"
    assert not OutboxMessage.objects.filter(payload__to="deudor@example.com").exists()
    assert shown(done)[0].endswith("Aviso al cliente en cola (WhatsApp).")


def test_the_debt_choices_write_amounts_as_the_screens_do(agent_client, loan, debtor):
    # "S/ 1,234.50", as the debts' card above them: not the ISO code ("PEN 1,234.50").
    payment = pay(loan, Decimal("10.00"), TODAY)
    response = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    assertContains(response, f"{loan.payment_code} · S/")
    assertNotContains(response, f"{loan.payment_code} · PEN")
    assertContains(response, f"#{payment.pk} · {loan.payment_code} · {TODAY:%d/%m/%Y} · S/ 10.00")
