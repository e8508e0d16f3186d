"""Life-cycle events: thanks after disbursement, renewal before maturity, once per loan."""

import datetime

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from credits.models import Installment, Loan
from credits.services import loans as loan_services
from crm.gestiones import examples, tasks
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.models import Gestion, LifecycleEvent, LifecycleRun, Outcome
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory

# A process life-cycle events can open: no required fields.
SERVICE_CALL = examples.ProcessSpec(
    name="Llamada de servicio",
    code="llamada-servicio",
    description="Contacto proactivo con el cliente.",
    product=None,
    states=(
        examples.StateSpec("Por contactar", days=2, is_initial=True),
        examples.StateSpec("Contactado", outcome=Outcome.SUCCESS),
    ),
    actions=(),
)
DISBURSED = datetime.date(2026, 3, 2)


@pytest.fixture
def service_call(asesor, supervisor):
    return examples.build_process(SERVICE_CALL, agents=[asesor], supervisors=[supervisor])


@pytest.fixture
def product(db):
    return LoanProductFactory(name="Crédito vehicular")


def disbursed_loan(product, *, on=DISBURSED, email="rosa@example.pe", **kwargs) -> Loan:
    """Disburse a loan of `product` at 23:30 local time on `on` (already the next day in UTC)."""
    customer = CustomerFactory(first_name="Rosa", last_name="Huamán", email=email)
    loan = LoanFactory(
        customer=customer, product=product, status=Loan.Status.READY_TO_DISBURSE, **kwargs
    )
    at = timezone.make_aware(datetime.datetime.combine(on, datetime.time(23, 30)))
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=at)


def thanks_event(product, service_call, **kwargs) -> LifecycleEvent:
    kwargs.setdefault("offset_days", 3)
    return LifecycleEvent.objects.create(
        name="Gracias por su crédito",
        kind=LifecycleEvent.Kind.THANKS,
        loan_product=product,
        anchor=LifecycleEvent.Anchor.DISBURSED,
        gestion_type=service_call,
        message_subject="Gracias, {nombre}",
        message_body="Estimada {nombre}: gracias por elegir su {producto}.",
        **kwargs,
    )


def renewal_event(product, service_call, **kwargs) -> LifecycleEvent:
    return LifecycleEvent.objects.create(
        name="Oferta de renovación",
        kind=LifecycleEvent.Kind.RENEWAL,
        loan_product=product,
        anchor=LifecycleEvent.Anchor.MATURITY,
        offset_days=30,
        gestion_type=service_call,
        **kwargs,
    )


def maturity(loan: Loan) -> datetime.date:
    return loan.installments.order_by("-due_date").first().due_date


def run(today, django_capture_on_commit_callbacks) -> dict[str, int]:
    with django_capture_on_commit_callbacks(execute=True):
        return campaign_services.run_lifecycle_events(today=today)


def test_the_thanks_comes_n_days_after_disbursement_once(
    product, service_call, asesor, mailoutbox, django_capture_on_commit_callbacks
):
    loan = disbursed_loan(product)
    event = thanks_event(product, service_call)

    counts = run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)
    again = run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)

    assert counts == {"events": 1, "runs": 1, "gestiones": 1, "messages": 1, "errors": 0}
    assert again["runs"] == 0
    gestion = Gestion.objects.get()
    assert (gestion.customer, gestion.gestion_type, gestion.agent) == (
        loan.customer,
        service_call,
        asesor,
    )
    assert list(gestion.loans.all()) == [loan]
    assert gestion.subject == f"Gracias por su crédito · {loan.payment_code}"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Gracias, Rosa"
    assert mailoutbox[0].body.startswith(
        "Estimada Rosa: gracias por elegir su Crédito vehicular.\n\n--\n"
    )
    done = LifecycleRun.objects.get()
    assert (done.event, done.loan, done.gestion, done.is_message_sent) == (
        event,
        loan,
        gestion,
        True,
    )


def test_the_event_waits_for_its_day_in_local_time(
    product, service_call, django_capture_on_commit_callbacks
):
    disbursed_loan(product)
    thanks_event(product, service_call)

    counts = run(datetime.date(2026, 3, 4), django_capture_on_commit_callbacks)

    assert counts["runs"] == 0
    assert not LifecycleRun.objects.exists()


def test_a_missed_day_is_caught_up(product, service_call, django_capture_on_commit_callbacks):
    disbursed_loan(product)
    thanks_event(product, service_call)

    counts = run(datetime.date(2026, 3, 20), django_capture_on_commit_callbacks)

    assert counts["runs"] == 1


def test_loans_whose_day_passed_over_30_days_ago_are_left_alone(
    product, service_call, django_capture_on_commit_callbacks
):
    disbursed_loan(product, on=datetime.date(2025, 6, 1))
    thanks_event(product, service_call)

    counts = run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)

    assert counts["runs"] == 0
    assert not Gestion.objects.exists()


def test_only_live_loans_of_the_event_product_get_it(
    product, service_call, django_capture_on_commit_callbacks
):
    paid = disbursed_loan(product)
    Loan.objects.filter(pk=paid.pk).update(status=Loan.Status.PAID)
    disbursed_loan(LoanProductFactory(name="Consumo"))
    LoanFactory(product=product, status=Loan.Status.READY_TO_DISBURSE)
    thanks_event(product, service_call)

    counts = run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)

    assert counts["runs"] == 0


def test_an_inactive_event_does_nothing(product, service_call, django_capture_on_commit_callbacks):
    disbursed_loan(product)
    thanks_event(product, service_call, is_active=False)

    assert run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)["runs"] == 0


def test_a_customer_without_email_gets_the_gestion_and_no_message(
    product, service_call, mailoutbox, django_capture_on_commit_callbacks
):
    disbursed_loan(product, email="")
    thanks_event(product, service_call)

    counts = run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)

    assert (counts["gestiones"], counts["messages"]) == (1, 0)
    assert LifecycleRun.objects.get().is_message_sent is False
    assert mailoutbox == []


def test_a_message_only_event_sends_the_message_without_a_gestion(
    product, mailoutbox, django_capture_on_commit_callbacks
):
    disbursed_loan(product)
    LifecycleEvent.objects.create(
        name="Bienvenida",
        kind=LifecycleEvent.Kind.THANKS,
        loan_product=product,
        offset_days=0,
        message_body="Bienvenida, {nombre}.",
    )

    counts = run(DISBURSED, django_capture_on_commit_callbacks)

    assert (counts["gestiones"], counts["messages"]) == (0, 1)
    assert mailoutbox[0].subject == "Bienvenida"
    assert not Gestion.objects.exists()


def test_the_renewal_comes_n_days_before_the_last_due_date(
    product, service_call, django_capture_on_commit_callbacks
):
    loan = disbursed_loan(product)
    renewal_event(product, service_call)
    last = maturity(loan)

    early = run(last - datetime.timedelta(days=31), django_capture_on_commit_callbacks)
    due = run(last - datetime.timedelta(days=30), django_capture_on_commit_callbacks)
    again = run(last - datetime.timedelta(days=29), django_capture_on_commit_callbacks)

    assert (early["runs"], due["runs"], again["runs"]) == (0, 1, 0)
    assert Gestion.objects.get().loans.get() == loan


def test_a_matured_loan_gets_no_renewal(product, service_call, django_capture_on_commit_callbacks):
    loan = disbursed_loan(product)
    renewal_event(product, service_call)

    counts = run(maturity(loan) + datetime.timedelta(days=1), django_capture_on_commit_callbacks)

    assert counts["runs"] == 0


def test_the_maturity_ignores_superseded_installments(
    product, service_call, django_capture_on_commit_callbacks
):
    loan = disbursed_loan(product)
    renewal_event(product, service_call)
    last = maturity(loan)
    old = loan.installments.get(due_date=last)
    Installment.objects.create(
        loan=loan,
        number=99,
        due_date=last + datetime.timedelta(days=365),
        principal_due=old.principal_due,
        interest_due=old.interest_due,
        is_superseded=True,
    )

    counts = run(last - datetime.timedelta(days=30), django_capture_on_commit_callbacks)

    assert counts["runs"] == 1


def test_the_daily_task_runs_todays_events(
    product, service_call, django_capture_on_commit_callbacks
):
    disbursed_loan(product, on=timezone.localdate() - datetime.timedelta(days=3))
    thanks_event(product, service_call)

    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.run_lifecycle_events.delay().get()

    assert counts["runs"] == 1
    assert "gestiones.run_lifecycle_events" in current_app.tasks
    assert "gestiones.launch_campaign" in current_app.tasks


def test_the_lifecycle_page_shows_each_event_and_its_runs(
    client, supervisor, product, service_call, django_capture_on_commit_callbacks
):
    disbursed_loan(product)
    event = thanks_event(product, service_call)
    renewal_event(product, service_call)
    run(datetime.date(2026, 3, 5), django_capture_on_commit_callbacks)
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:lifecycle"))

    assertContains(response, "Gracias por su crédito")
    assertContains(response, "Oferta de renovación")
    assertContains(response, f'id="event-{event.pk}"')
    assertContains(response, 'data-runs="1"')
    assertContains(response, 'data-runs="0"')


def test_an_event_day_is_at_most_ten_years_away(admin_client, product, service_call):
    """10⁹ days was accepted and overflowed the daily task's date arithmetic."""
    data = {
        "name": "Gracias",
        "kind": LifecycleEvent.Kind.THANKS,
        "loan_product": product.pk,
        "anchor": LifecycleEvent.Anchor.DISBURSED,
        "gestion_type": service_call.pk,
        "message_subject": "",
        "message_body": "Gracias, {nombre}.",
        "is_active": "on",
    }
    url = reverse("admin:gestiones_lifecycleevent_add")

    refused = admin_client.post(url, {**data, "offset_days": "1000000000"})
    kept = admin_client.post(url, {**data, "offset_days": "3650"})

    assertContains(refused, "Hasta 3650 días (10 años).")
    assert kept.status_code == 302
    assert list(LifecycleEvent.objects.values_list("offset_days", flat=True)) == [3650]


def test_an_event_saved_before_the_bound_runs_nothing_and_stops_no_other(
    product, service_call, django_capture_on_commit_callbacks
):
    disbursed_loan(product, on=timezone.localdate() - datetime.timedelta(days=3))
    thanks_event(product, service_call, offset_days=10**9)
    thanks_event(product, service_call)

    counts = run(timezone.localdate(), django_capture_on_commit_callbacks)

    assert counts["runs"] == 1
