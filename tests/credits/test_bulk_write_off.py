"""Write-offs in bulk (*castigo en lote*): the criteria and their bounds, the preview's
figures, the confirmation page, the run in the background (skipping what changed since),
its history, who may do it, and a payment racing the run on PostgreSQL."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from credits import selectors
from credits.models import LedgerEntry, Loan, Payment, WriteOffBatch, WriteOffItem
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from credits.write_offs import services as write_offs
from crm.models import Interaction
from lib import progress as lib_progress
from tests.credits.conftest import TODAY, pay
from tests.credits.test_ledger import assert_ledger_matches
from tests.factories import BranchFactory, LoanFactory, LoanProductFactory

NEW = reverse("credits:write_off_new")
HISTORY = reverse("credits:write_off_batch_list")

# LoanFactory's loans start on 1 January 2026, first due on 1 February: on TODAY (15 June
# 2026) they are 134 days late.
LATE_DAYS = (TODAY - date(2026, 2, 1)).days


def _text(response) -> str:
    return " ".join(response.content.decode().split()).replace("\xa0", " ")


def _criteria(**overrides) -> dict:
    data = {"step": "preview", "currency": "PEN", "min_days": "100", "codes": ""}
    data.update(overrides)
    return data


def _owed(*loans: Loan) -> tuple[Decimal, Decimal]:
    balances = [selectors.loan_balance(loan, TODAY) for loan in loans]
    return (
        sum((b.principal_due for b in balances), Decimal(0)),
        sum((b.total_due for b in balances), Decimal(0)),
    )


def _money(amount: Decimal) -> str:
    return f"S/ {amount:,.2f}"


@pytest.fixture
def book(make_active_loan, frozen_today):
    """Two soles loans 134 days late, one soles loan 45 days late, one dollars loan 134 days
    late and one soles loan written off already."""
    dollars = LoanProductFactory(name="Dólares", currency="USD")
    loans = {
        "late_a": make_active_loan(payment_code="1000000001"),
        "late_b": make_active_loan(payment_code="1000000002"),
        "recent": make_active_loan(
            payment_code="1000000003", start_date=date(2026, 4, 1), first_due_date=date(2026, 5, 1)
        ),
        "dollars": make_active_loan(payment_code="1000000004", product=dollars),
        "gone": make_active_loan(payment_code="1000000005"),
    }
    loan_services.write_off(loan=loans["gone"], actor=None, reason="Antes")
    for loan in loans.values():
        loan.refresh_from_db()
    return loans


def _confirm(client, **overrides):
    """Post the preview's reason form, then the confirmation page's form, as a browser does."""
    data = _criteria(step="write_off", reason="Inubicables 2026", **overrides)
    page = client.post(NEW, data)
    count = page.context["hidden"][-2][1]
    total = page.context["hidden"][-1][1]
    return client.post(
        NEW, {**data, "confirm": "yes", "expected_count": count, "expected_total": total}
    )


# --- Who may -------------------------------------------------------------------------------


def test_the_loans_list_offers_the_bulk_write_off_only_to_who_may_write_off(
    client, supervisor, asesor
):
    client.force_login(supervisor)
    assertContains(client.get(reverse("credits:loan_list")), f'href="{NEW}"')

    client.force_login(asesor)
    assertNotContains(client.get(reverse("credits:loan_list")), f'href="{NEW}"')


@pytest.mark.parametrize("role", ["asesor", "cobranzas", "outsider"])
def test_roles_without_the_write_off_permission_are_refused_every_page(client, request, book, role):
    batch = write_offs.create_batch(
        actor=request.getfixturevalue("supervisor"),
        criteria=write_offs.Criteria(currency="PEN", min_days_past_due=100),
        reason="Inubicables",
        expected_count=2,
        expected_total=_owed(book["late_a"], book["late_b"])[1],
    )
    client.force_login(request.getfixturevalue(role))

    answers = [
        client.get(NEW).status_code,
        client.post(NEW, _criteria()).status_code,
        client.post(NEW, {**_criteria(step="write_off", reason="x"), "confirm": "yes"}).status_code,
        client.get(HISTORY).status_code,
        client.get(batch.get_absolute_url()).status_code,
        client.get(reverse("credits:write_off_batch_progress", args=[batch.pk])).status_code,
    ]

    assert answers == [403] * 6
    assert WriteOffBatch.objects.count() == 1
    assert Loan.objects.filter(status=Loan.Status.WRITTEN_OFF).count() == 1


# --- The criteria and their bounds ---------------------------------------------------------


def test_the_currency_and_the_minimum_days_are_required(client, supervisor):
    client.force_login(supervisor)

    response = client.post(NEW, {"step": "preview"})

    assertContains(response, "Elija la moneda: se castiga una moneda a la vez.")
    assertContains(response, "Indique los días de atraso mínimos (1 o más).")
    assert response.context["preview"] is None


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"min_days": "0"}, "Los días de atraso mínimos son 1 o más."),
        ({"min_days": "36501"}, "Los días de atraso mínimos son como máximo 36500."),
        ({"min_days": "1e3"}, "Indique los días de atraso como un número entero."),
        ({"currency": "EUR"}, "Elija soles o dólares."),
        ({"product": "999999"}, "Elija un producto de la lista."),
        ({"branch": "999999"}, "Elija una sucursal de la lista."),
        ({"codes": "1000000001\n<script>"}, "Este código de pago no es válido: &lt;script&gt;."),
        ({"codes": "9" * 31}, "Este código de pago no es válido"),
        (
            {"codes": "\n".join(f"C{n}" for n in range(2001))},
            "Pegó 2,001 códigos: el máximo es 2,000. Divídalos en varios lotes.",
        ),
        ({"codes": "1" * 70_000}, "La lista es demasiado larga: pegue hasta 2,000 códigos."),
    ],
)
def test_each_criterion_is_bounded_and_refused_in_spanish(client, supervisor, overrides, error):
    client.force_login(supervisor)

    response = client.post(NEW, _criteria(**overrides))

    assert response.status_code == 200
    assertContains(response, error)
    assert response.context["preview"] is None


def test_the_reason_is_required_and_bounded(client, supervisor, book):
    client.force_login(supervisor)

    blank = client.post(NEW, _criteria(step="write_off", reason="  "))
    long = client.post(NEW, _criteria(step="write_off", reason="x" * 201))

    assertContains(blank, "Indique el motivo del castigo.")
    assertContains(long, "El motivo tiene como máximo 200 caracteres.")
    assert not WriteOffBatch.objects.exists()


def test_more_loans_than_a_batch_takes_are_refused_naming_the_cap(
    client, supervisor, book, monkeypatch
):
    monkeypatch.setattr(write_offs, "MAX_LOANS", 1)
    client.force_login(supervisor)

    preview = client.post(NEW, _criteria())
    confirmed = client.post(
        NEW,
        {
            **_criteria(step="write_off", reason="Inubicables"),
            "confirm": "yes",
            "expected_count": "2",
            "expected_total": str(_owed(book["late_a"], book["late_b"])[1]),
        },
    )

    message = "Un castigo en lote llega como máximo a 1 créditos y estos filtros dan 2."
    assertContains(preview, message)
    assertNotContains(preview, 'id="write-off-reason"')
    assertContains(confirmed, message)
    assert not WriteOffBatch.objects.exists()


def test_the_real_cap_is_20000_loans_and_the_form_says_so():
    assert write_offs.MAX_LOANS == 20_000
    assert "como máximo a 20,000 créditos y estos filtros dan 20,001" in write_offs.size_refusal(
        20_001
    )


# --- The preview ---------------------------------------------------------------------------


def test_the_preview_counts_the_active_loans_that_match_and_what_they_owe(client, supervisor, book):
    principal, total = _owed(book["late_a"], book["late_b"])
    client.force_login(supervisor)

    response = client.post(NEW, _criteria())

    text = _text(response)
    preview = response.context["preview"]
    assert (preview.count, preview.principal, preview.total) == (2, principal, total)
    assert "2 créditos vigentes cumplen los filtros" in text
    assert _money(principal) in text
    assert _money(total) in text
    assert [loan.payment_code for loan in preview.rows] == ["1000000001", "1000000002"]
    assert [loan.owed for loan in preview.rows] == [total / 2, total / 2]
    assert f'<td class="text-end">{LATE_DAYS}</td>' in text
    # Fewer days late, another currency, written off already: not in it.
    for code in ("1000000003", "1000000004", "1000000005"):
        assert code not in text
    assertContains(response, 'id="write-off-reason"')
    assertContains(response, 'name="reason"')


def test_the_preview_lists_the_first_50_most_late_and_counts_them_all(
    client, supervisor, make_active_loan, frozen_today, monkeypatch
):
    monkeypatch.setattr(write_offs, "PREVIEW_ROWS", 2)
    make_active_loan(
        payment_code="2000000001", start_date=date(2026, 3, 1), first_due_date=date(2026, 4, 1)
    )
    make_active_loan(payment_code="2000000002")
    make_active_loan(payment_code="2000000003")
    client.force_login(supervisor)

    response = client.post(NEW, _criteria(min_days="30"))

    preview = response.context["preview"]
    assert preview.count == 3
    assert [loan.payment_code for loan in preview.rows] == ["2000000002", "2000000003"]
    assertContains(response, "Los 2 con más días de atraso; las cifras de arriba son de todos.")


def test_the_preview_keeps_to_the_product_branch_and_codes_chosen(
    client, supervisor, make_active_loan, frozen_today
):
    motos, lima = LoanProductFactory(name="Motos"), BranchFactory(name="Lima Norte")
    chosen = make_active_loan(payment_code="3000000001", product=motos, branch=lima)
    make_active_loan(payment_code="3000000002", product=motos)
    make_active_loan(payment_code="3000000003", branch=lima)
    make_active_loan(payment_code="3000000004", product=motos, branch=lima)
    client.force_login(supervisor)

    response = client.post(
        NEW,
        _criteria(
            product=str(motos.pk),
            branch=str(lima.pk),
            codes="3000000001\r\n 3000000002 \n\n3000000001\n9999999999",
        ),
    )

    preview = response.context["preview"]
    assert [loan.pk for loan in preview.rows] == [chosen.pk]
    assert preview.total == _owed(chosen)[1]
    assert preview.codes_left_out == ["3000000002", "9999999999"]
    assertContains(response, "3000000002, 9999999999")


def test_criteria_that_match_nothing_say_so(client, supervisor, book):
    client.force_login(supervisor)

    response = client.post(NEW, _criteria(currency="USD", min_days="200"))

    assertContains(response, "Ningún crédito vigente cumple estos filtros")
    assertNotContains(response, 'id="write-off-reason"')


# --- The confirmation ----------------------------------------------------------------------


def test_the_write_off_posted_without_its_confirmation_only_asks_naming_count_and_total(
    client, supervisor, book
):
    principal, total = _owed(book["late_a"], book["late_b"])
    client.force_login(supervisor)

    response = client.post(NEW, _criteria(step="write_off", reason="Inubicables 2026"))

    text = _text(response)
    assert response.status_code == 200
    assert f"¿Castigar 2 créditos por {_money(total)}?" in text
    assert "No se puede deshacer: un crédito castigado no vuelve a la cartera vigente." in text
    assert _money(principal) in text
    assertContains(response, 'name="confirm" value="yes"')
    assertContains(response, 'value="Inubicables 2026"')
    assertContains(response, "Sí, castigar 2 créditos")
    assertNotContains(response, 'id="confirm-errors"')
    assert not WriteOffBatch.objects.exists()
    assert Loan.objects.filter(status=Loan.Status.ACTIVE).count() == 4


def test_a_confirmation_of_figures_that_changed_since_asks_again_with_the_new_ones(
    client, supervisor, book
):
    client.force_login(supervisor)
    data = _criteria(step="write_off", reason="Inubicables")
    page = client.post(NEW, data)
    pay(book["late_b"], selectors.loan_balance(book["late_b"], TODAY).to_settle, TODAY)

    response = client.post(
        NEW,
        {
            **data,
            "confirm": "yes",
            "expected_count": page.context["hidden"][-2][1],
            "expected_total": page.context["hidden"][-1][1],
        },
    )

    assertContains(response, "Los créditos cambiaron desde que se mostró esta página")
    assertContains(response, "¿Castigar 1 crédito por")
    assert not WriteOffBatch.objects.exists()


# --- The run -------------------------------------------------------------------------------


def test_a_confirmed_batch_writes_off_what_matched_and_records_it_all(
    client, supervisor, book, django_capture_on_commit_callbacks
):
    principal, total = _owed(book["late_a"], book["late_b"])
    client.force_login(supervisor)

    with django_capture_on_commit_callbacks(execute=True):
        response = _confirm(client)

    batch = WriteOffBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == batch.get_absolute_url()
    assert batch.status == WriteOffBatch.Status.DONE
    assert (batch.written_off_count, batch.skipped_count) == (2, 0)
    assert (batch.principal_written_off, batch.total_written_off) == (principal, total)
    assert (batch.principal_at_confirmation, batch.total_at_confirmation) == (principal, total)
    assert (batch.created_by, batch.reason, batch.min_days_past_due) == (
        supervisor,
        "Inubicables 2026",
        100,
    )
    statuses = dict(Loan.objects.values_list("payment_code", "status"))
    assert statuses == {
        "1000000001": Loan.Status.WRITTEN_OFF,
        "1000000002": Loan.Status.WRITTEN_OFF,
        "1000000003": Loan.Status.ACTIVE,
        "1000000004": Loan.Status.ACTIVE,
        "1000000005": Loan.Status.WRITTEN_OFF,
    }
    page = _text(client.get(batch.get_absolute_url()))
    assert "Terminado" in page
    assert _money(total) in page


def test_each_loan_of_a_batch_is_on_its_customers_timeline_naming_the_batch(
    client, supervisor, book, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)

    with django_capture_on_commit_callbacks(execute=True):
        _confirm(client)

    batch = WriteOffBatch.objects.get()
    loan = book["late_a"]
    entry = Interaction.objects.filter(customer=loan.customer).latest("id")
    assert entry.summary == f"Crédito {loan.payment_code}: Vigente → Castigado"
    assert entry.payload["reason"] == f"Castigo en lote #{batch.pk}: Inubicables 2026"
    assert entry.actor == supervisor
    written = LedgerEntry.objects.get(loan=loan, kind=LedgerEntry.Kind.WRITE_OFF)
    assert written.reason == f"Castigo en lote #{batch.pk}: Inubicables 2026"


def _queued_batch(actor, book) -> WriteOffBatch:
    """The batch of the two soles loans 134 days late, confirmed and not run yet."""
    return write_offs.create_batch(
        actor=actor,
        criteria=write_offs.Criteria(currency="PEN", min_days_past_due=100),
        reason="Inubicables",
        expected_count=2,
        expected_total=_owed(book["late_a"], book["late_b"])[1],
    )


def test_a_loan_paid_after_the_confirmation_is_skipped_with_its_reason(client, supervisor, book):
    batch = _queued_batch(supervisor, book)
    paid = book["late_b"]
    pay(paid, selectors.loan_balance(paid, TODAY).to_settle, TODAY)
    owed_a = _owed(book["late_a"])

    write_offs.run_batch(batch_id=batch.pk)

    batch.refresh_from_db()
    paid.refresh_from_db()
    assert paid.status == Loan.Status.PAID
    assert not LedgerEntry.objects.filter(loan=paid, kind=LedgerEntry.Kind.WRITE_OFF).exists()
    assert (batch.status, batch.written_off_count, batch.skipped_count) == ("done", 1, 1)
    assert (batch.principal_written_off, batch.total_written_off) == owed_a
    item = batch.items.get(loan=paid)
    assert (item.outcome, item.note) == (
        WriteOffItem.Outcome.SKIPPED,
        "Ya no está vigente: está «Pagado».",
    )
    client.force_login(supervisor)
    page = _text(client.get(batch.get_absolute_url()))
    assert "1 crédito omitido" in page
    assert "1000000002</a></td>" in page
    assert "Ya no está vigente: está «Pagado»." in page


def test_a_loan_brought_under_the_minimum_days_since_is_skipped_saying_so(supervisor, book):
    batch = _queued_batch(supervisor, book)
    late = book["late_a"]
    # The four oldest installments paid: the oldest one unpaid is academic, 14 days late.
    rows = list(selectors.live_installments(late))[:4]
    pay(late, sum((row.total_pending for row in rows), Decimal(0)), TODAY)
    late.refresh_from_db()

    write_offs.run_batch(batch_id=batch.pk)

    item = batch.items.get(loan=late)
    assert item.outcome == WriteOffItem.Outcome.SKIPPED
    assert item.note == f"Ya no tiene 100 días de atraso: tiene {late.days_past_due}."
    late.refresh_from_db()
    assert late.status == Loan.Status.ACTIVE


def test_a_loan_written_off_alone_meanwhile_is_skipped_as_written_off(supervisor, book):
    batch = _queued_batch(supervisor, book)
    loan_services.write_off(loan=book["late_a"], actor=supervisor, reason="Uno solo")

    write_offs.run_batch(batch_id=batch.pk)

    assert batch.items.get(loan=book["late_a"]).note == "Ya estaba castigado."
    assert LedgerEntry.objects.filter(loan=book["late_a"], kind="write_off").count() == 1


def test_a_second_delivery_of_the_run_does_nothing(supervisor, book):
    batch = _queued_batch(supervisor, book)
    write_offs.run_batch(batch_id=batch.pk)

    again = write_offs.run_batch(batch_id=batch.pk)

    assert again is None
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WRITE_OFF).count() == 3


def test_a_run_whose_worker_died_is_sent_again_and_finishes_only_what_was_left(
    supervisor, book, django_capture_on_commit_callbacks
):
    batch = _queued_batch(supervisor, book)
    # The first worker wrote off the first loan, then died: the batch stays running.
    first = batch.items.order_by("id").first()
    write_offs._write_off_item(batch, first.pk)
    long_ago = timezone.now() - lib_progress.ABANDONED_AFTER - timedelta(minutes=1)
    WriteOffBatch.objects.filter(pk=batch.pk).update(status="running", started_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        sent = write_offs.resume_abandoned()

    batch.refresh_from_db()
    assert sent == 1
    assert (batch.status, batch.attempts) == ("done", 1)
    assert (batch.written_off_count, batch.skipped_count) == (2, 0)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WRITE_OFF).count() == 3


def test_a_batch_interrupted_too_often_shows_as_interrupted_with_what_was_done(
    client, supervisor, book
):
    batch = _queued_batch(supervisor, book)
    write_offs._write_off_item(batch, batch.items.order_by("id").first().pk)
    long_ago = timezone.now() - lib_progress.ABANDONED_AFTER - timedelta(minutes=1)
    WriteOffBatch.objects.filter(pk=batch.pk).update(
        status="running", started_at=long_ago, attempts=lib_progress.MAX_SENDS - 1
    )

    write_offs.resume_abandoned()

    batch.refresh_from_db()
    assert batch.status == WriteOffBatch.Status.FAILED
    client.force_login(supervisor)
    response = client.get(batch.get_absolute_url())
    page = _text(response)
    assert "Interrumpido" in page
    assert "El castigo se interrumpió 3 veces" in page
    assert (response.context["written_off"], response.context["pending"]) == (1, 1)
    assert "castigado</div>" in page
    assert "sin castigar todavía" in page
    history = _text(client.get(HISTORY))
    assert "1 / 2" in history


def test_the_batch_page_polls_its_progress_while_it_runs_and_refreshes_at_the_end(
    client, supervisor, book
):
    batch = _queued_batch(supervisor, book)
    WriteOffBatch.objects.filter(pk=batch.pk).update(status="running", started_at=timezone.now())
    lib_progress.save(batch.progress_cache_key, {"done": 1}, 60)
    client.force_login(supervisor)
    url = reverse("credits:write_off_batch_progress", args=[batch.pk])

    running = client.get(url, headers={"HX-Request": "true"})
    WriteOffBatch.objects.filter(pk=batch.pk).update(status="done")
    finished = client.get(url, headers={"HX-Request": "true"})

    assertContains(running, 'value="50"')
    assertContains(running, "Revisados 1 de 2 créditos.")
    assertContains(running, f'hx-get="{url}"')
    assert "HX-Refresh" not in running
    assert finished["HX-Refresh"] == "true"


# --- The history ---------------------------------------------------------------------------


def test_the_history_lists_the_batches_newest_first_a_page_at_a_time(
    client, supervisor, book, monkeypatch
):
    from credits.write_offs import views as write_off_views

    monkeypatch.setattr(write_off_views, "PAGE_SIZE", 2)
    batches = []
    for reason in ("Primero", "Segundo", "Tercero"):
        batch = _queued_batch(supervisor, book)
        WriteOffBatch.objects.filter(pk=batch.pk).update(reason=reason, status="done")
        batches.append(batch)
    client.force_login(supervisor)

    first = client.get(HISTORY)
    second = client.get(HISTORY, {"page": 2})

    assert [b.reason for b in first.context["page"].object_list] == ["Tercero", "Segundo"]
    assert [b.reason for b in second.context["page"].object_list] == ["Primero"]
    assertContains(first, "3 castigos en lote")
    assertContains(first, f'href="{batches[2].get_absolute_url()}"')


def test_the_history_counts_unfinished_batches_in_one_query_however_many(
    client, supervisor, book, django_assert_max_num_queries
):
    # A batch interrupted before its counts were kept is counted from its items: one query
    # for the page's, not one per batch.
    client.force_login(supervisor)
    _queued_batch(supervisor, book)
    client.get(HISTORY)  # the session and permissions, cached
    with CaptureQueriesContext(connection) as one:
        client.get(HISTORY)
    for _ in range(4):
        WriteOffBatch.objects.filter(pk=_queued_batch(supervisor, book).pk).update(status="failed")

    with django_assert_max_num_queries(len(one)):
        page = client.get(HISTORY)

    assertContains(page, "5 castigos en lote")


# --- A payment racing the run (PostgreSQL) -------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one write transaction at a time"
)
@pytest.mark.parametrize("payment_first", [True, False])
def test_a_payment_racing_the_batch_leaves_the_loan_paid_or_written_off_consistently(
    transactional_db, roles, payment_first, monkeypatch
):
    """The payment of everything a loan owes and the batch's write-off of it, at once: each
    waits for the other's lock, and the loan ends as the later one leaves it, its balances
    exactly what its ledger says, the batch's item saying what happened to it."""
    from tests.factories import UserFactory

    supervisor = UserFactory(username="supervisor-race", role="Supervisor")
    today = timezone.localdate()
    loans = []
    for code in ("4000000001", "4000000002"):
        loan = LoanFactory(
            payment_code=code,
            status=Loan.Status.READY_TO_DISBURSE,
            start_date=today - timedelta(days=200),
            first_due_date=today - timedelta(days=170),
        )
        loans.append(
            loan_services.disburse(loan=loan, actor=None, disbursed_on=today - timedelta(days=200))
        )
    target = loans[1]
    owed_total = selectors.loan_balance(target).to_settle
    # Made as create_batch makes it, but not sent: here the run starts in its own thread.
    principal, total = write_offs.owed(Loan.objects.filter(pk__in=[each.pk for each in loans]))
    batch = WriteOffBatch.objects.create(
        created_by=supervisor,
        reason="Carrera",
        currency="PEN",
        min_days_past_due=100,
        loan_count=2,
        principal_at_confirmation=principal,
        total_at_confirmation=total,
    )
    WriteOffItem.objects.bulk_create(WriteOffItem(batch=batch, loan=each) for each in loans)
    # The batch holds the target's lock (or waits for it) while the payment goes.
    hold, go = threading.Event(), threading.Event()
    original = write_offs._refusal

    def slow_refusal(batch_, loan):
        if loan.pk == target.pk:
            hold.set()
            go.wait(timeout=10)
        return original(batch_, loan)

    monkeypatch.setattr(write_offs, "_refusal", slow_refusal)
    errors: list[str] = []

    def run():
        try:
            write_offs.run_batch(batch_id=batch.pk)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    def pay_all():
        try:
            payment_services.apply_payment(
                loan=Loan.objects.get(pk=target.pk),
                amount=owed_total,
                received_on=today,
                source=Payment.Source.CASH,
                actor=None,
            )
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    runner, payer = threading.Thread(target=run), threading.Thread(target=pay_all)
    if payment_first:
        payer.start()
        payer.join(timeout=60)
        runner.start()
        go.set()
    else:
        runner.start()
        assert hold.wait(timeout=30)
        payer.start()  # waits on the loan's lock the batch holds
        threading.Timer(0.5, go.set).start()
    runner.join(timeout=60)
    payer.join(timeout=60)

    assert errors == []
    target.refresh_from_db()
    batch.refresh_from_db()
    item = batch.items.get(loan=target)
    write_off_entries = LedgerEntry.objects.filter(loan=target, kind=LedgerEntry.Kind.WRITE_OFF)
    # Paid in full either way: before the write-off (skipped) or after it (written off,
    # then paid off: a written-off loan is still owed and recoverable).
    assert target.status == Loan.Status.PAID
    if payment_first:
        assert item.outcome == WriteOffItem.Outcome.SKIPPED
        assert item.note == "Ya no está vigente: está «Pagado»."
        assert not write_off_entries.exists()
        assert (batch.written_off_count, batch.skipped_count) == (1, 1)
    else:
        assert item.outcome == WriteOffItem.Outcome.WRITTEN_OFF
        assert item.total >= owed_total > 0
        assert write_off_entries.count() == 1
        assert (batch.written_off_count, batch.skipped_count) == (2, 0)
    assert all(row.total_pending == 0 for row in selectors.live_installments(target))
    assert target.credit_balance == 0
    assert_ledger_matches(target)
    assert Payment.objects.get(loan=target).amount == owed_total
    assert batch.status == WriteOffBatch.Status.DONE
