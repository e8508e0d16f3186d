"""The portfolio page reads a snapshot of the report per day: fresh, it costs a few queries;
a change marks the days it touches stale; a stale past day is computed again before it is
shown, and today's stale figures are shown with their time while a task recomputes them."""

import io
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits import portfolio, selectors, tasks
from credits.models import Loan, PortfolioSnapshot
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from lib import queue
from lib.money import Currency
from tests.credits.conftest import TODAY, at, pay
from tests.factories import LoanFactory

pytestmark = pytest.mark.usefixtures("frozen_today")

HTMX = {"HX-Request": "true"}
PEN = Currency.PEN
# A piece of the aging SQL (`selectors._portfolio_sql`): a query holding it ran the report.
AGING_SQL = "per_loan"
REPORT = reverse("credits:portfolio_report")

# LoanFactory: 10,000 at 24 % in 12 monthly installments of 945.60 from 1 February 2026,
# disbursed on 1 January 2026. On TODAY (15 June) five installments are overdue.


def snapshot(day: date) -> PortfolioSnapshot:
    return PortfolioSnapshot.objects.get(as_of=day)


def stale_days() -> set[date]:
    return set(PortfolioSnapshot.objects.filter(is_stale=True).values_list("as_of", flat=True))


def refreshes_sent(callbacks) -> int:
    """Count the refresh tasks among the callbacks run on commit."""
    return sum(
        1
        for c in callbacks
        if getattr(c, "func", None) is queue.send_now and c.args[0] == portfolio.REFRESH_TASK
    )


def test_a_fresh_snapshot_serves_the_page_without_running_the_report(
    client, supervisor, make_active_loan, django_assert_max_num_queries
):
    make_active_loan()
    client.force_login(supervisor)
    client.get(REPORT)  # computes and keeps today's figures

    # The session, the user and their permissions: 7, with the session's save; the form's
    # first day and the snapshot: 2.
    with django_assert_max_num_queries(9), CaptureQueriesContext(connection) as queries:
        response = client.get(REPORT)

    assert not [q["sql"] for q in queries if AGING_SQL in q["sql"]]
    assert response.context["summary"] == selectors.portfolio_summary(TODAY)
    assert response.context["is_stale"] is False
    assertContains(
        response, '<div class="fs-4 fw-semibold" data-figure="outstanding">S/ 10,000.00</div>'
    )
    assertContains(response, "Cifras calculadas el 15/06/2026 a las 12:00.")
    assertNotContains(response, 'hx-trigger="every 15s"')


def test_the_figures_come_back_as_the_exact_decimals_they_were(make_active_loan):
    loan = make_active_loan()
    pay(loan, "1000.00", date(2026, 6, 1))
    computed = selectors.portfolio_summary(TODAY)

    stored = portfolio.summary_of(portfolio.refresh_snapshot(TODAY), PEN)

    assert stored == computed
    assert [str(b["outstanding"]) for b in stored.buckets] == [
        str(b["outstanding"]) for b in computed.buckets
    ]
    assert str(stored.outstanding) == str(computed.outstanding) == "9254.40"
    assert str(stored.par30) == "100.00"


def test_recording_a_payment_marks_its_day_and_the_later_ones_stale(make_active_loan):
    loan = make_active_loan()
    for day in (date(2026, 6, 9), date(2026, 6, 10), TODAY):
        portfolio.refresh_snapshot(day)

    pay(loan, "945.60", date(2026, 6, 10))

    assert stale_days() == {date(2026, 6, 10), TODAY}


def test_annulling_a_payment_marks_the_days_from_its_receipt_stale(make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, "945.60", date(2026, 6, 1))
    for day in (date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 5), TODAY):
        portfolio.refresh_snapshot(day)

    payment_services.annul_payment(payment=payment, actor=None, reason="Rebotó")

    # Before its receipt the payment never counted; from then on it was in the figures.
    assert stale_days() == {date(2026, 6, 1), date(2026, 6, 5), TODAY}


def test_disbursing_a_loan_marks_the_days_from_its_disbursement_stale(make_active_loan):
    make_active_loan()
    for day in (date(2026, 6, 1), date(2026, 6, 2), TODAY):
        portfolio.refresh_snapshot(day)

    make_active_loan(start_date=date(2026, 6, 2), first_due_date=date(2026, 7, 2))

    assert stale_days() == {date(2026, 6, 2), TODAY}


def test_writing_a_loan_off_marks_today_stale(make_active_loan):
    loan = make_active_loan()
    for day in (date(2026, 6, 14), TODAY):
        portfolio.refresh_snapshot(day)

    loan_services.write_off(loan=loan, actor=None, reason="Inubicable")

    assert stale_days() == {TODAY}


def test_a_snapshot_kept_before_the_written_off_line_is_computed_again_before_it_is_shown(
    client, supervisor, make_active_loan
):
    loan = make_active_loan()
    with at(date(2026, 5, 20)):
        loan_services.write_off(loan=loan, actor=None, reason="Inubicable")
    # The shape of then: one report, no currencies.
    old = portfolio.figures_of(selectors.portfolio_summaries(TODAY))["currencies"]["PEN"]
    del old["written_off"], old["written_off_loans"]
    old["buckets"][-1].update(loans=1, outstanding="10000.00")  # counted it, as it did then
    old["outstanding"] = "10000.00"
    PortfolioSnapshot.objects.create(as_of=TODAY, figures=old, is_stale=False)
    client.force_login(supervisor)

    summary = client.get(REPORT).context["summary"]

    assert (summary.outstanding, summary.written_off) == (Decimal("0.00"), Decimal("10000.00"))
    assert "written_off" in snapshot(TODAY).figures["currencies"]["PEN"]


def test_a_draft_loan_leaves_the_snapshots_alone(make_active_loan):
    make_active_loan()
    portfolio.refresh_snapshot(TODAY)

    LoanFactory(status=Loan.Status.DRAFT)

    assert stale_days() == set()


def test_a_stale_past_day_is_computed_again_before_it_is_shown(
    client, supervisor, make_active_loan
):
    loan = make_active_loan()
    client.force_login(supervisor)
    before = client.get(REPORT, {"as_of": "2026-03-15"}).context["summary"]
    # Recorded today, received then: the figures of 15 March change.
    pay(loan, "945.60", date(2026, 3, 10))

    response = client.get(REPORT, {"as_of": "2026-03-15"})

    summary = response.context["summary"]
    assert summary == selectors.portfolio_summary(date(2026, 3, 15))
    assert summary.outstanding == before.outstanding - Decimal("745.60")
    assert response.context["is_stale"] is False
    assert not snapshot(date(2026, 3, 15)).is_stale
    assertNotContains(response, "Se están incorporando")


def test_todays_stale_figures_are_shown_with_their_time_while_one_refresh_is_sent(
    client, supervisor, make_active_loan, django_capture_on_commit_callbacks
):
    loan = make_active_loan()
    client.force_login(supervisor)
    client.get(REPORT)
    with at(TODAY, 15):
        pay(loan, "945.60", TODAY)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            page = client.get(REPORT)
            poll = client.get(REPORT, {"as_of": "2026-06-15"}, headers=HTMX)

    # The figures of noon, not yet the payment of 15:00.
    assertContains(
        page, '<div class="fs-4 fw-semibold" data-figure="outstanding">S/ 10,000.00</div>'
    )
    assertContains(page, "Cifras calculadas el 15/06/2026 a las 12:00.")
    assertContains(page, "Se están incorporando los cambios registrados después")
    assert refreshes_sent(callbacks) == 1
    # The figures ask for themselves again, always at the same address.
    asks = f'hx-get="{REPORT}?as_of=2026-06-15&amp;currency=PEN" hx-trigger="every 15s"'
    assertContains(page, asks)
    assertTemplateUsed(poll, "credits/partials/portfolio_figures.html")
    assertContains(poll, asks)


def test_the_refresh_brings_todays_figures_up_to_date_and_the_asking_stops(
    client, supervisor, make_active_loan, django_capture_on_commit_callbacks
):
    loan = make_active_loan()
    client.force_login(supervisor)
    client.get(REPORT)
    with at(TODAY, 15):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            pay(loan, "945.60", TODAY)

        poll = client.get(REPORT, {"as_of": "2026-06-15"}, headers=HTMX)

    assert refreshes_sent(callbacks) == 1
    assert poll.context["summary"] == selectors.portfolio_summary(TODAY)
    assertContains(poll, "Cifras calculadas el 15/06/2026 a las 15:00.")
    assertNotContains(poll, "Se están incorporando")
    assertNotContains(poll, "hx-get=")


def test_a_burst_of_payments_sends_one_refresh(
    make_active_loan, django_capture_on_commit_callbacks
):
    loan = make_active_loan()
    portfolio.refresh_snapshot(TODAY)
    sent = 0

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            pay(loan, "100.00", TODAY)
        sent += refreshes_sent(callbacks)

    assert sent == 1


def test_the_task_computes_today_and_the_recent_stale_days(make_active_loan):
    loan = make_active_loan()
    for day in (date(2026, 5, 1), date(2026, 6, 14), TODAY):
        portfolio.refresh_snapshot(day)
    pay(loan, "945.60", date(2026, 4, 30))

    tasks.refresh_portfolio_snapshot()

    assert stale_days() == {date(2026, 5, 1)}  # more than a week back: when it is looked at
    for day in (date(2026, 6, 14), TODAY):
        assert portfolio.summary_of(snapshot(day), PEN) == selectors.portfolio_summary(day)


def test_the_task_makes_a_new_days_figures_before_its_first_visitor(make_active_loan):
    make_active_loan()
    tomorrow = TODAY + timedelta(days=1)
    portfolio.refresh_snapshot(TODAY)

    with at(tomorrow, 0):
        tasks.refresh_portfolio_snapshot()

    assert not snapshot(tomorrow).is_stale
    assert portfolio.summary_of(snapshot(tomorrow), PEN) == selectors.portfolio_summary(tomorrow)


def test_a_change_made_while_the_figures_are_computed_leaves_them_stale(make_active_loan):
    loan = make_active_loan()
    day = date(2026, 6, 10)

    def pay_before_saving(execute, sql, params, many, context):
        # Another transaction commits a payment after the report read the ledger.
        if sql.startswith('UPDATE "credits_portfoliosnapshot"') and not paid:
            paid.append(True)  # before paying: the payment's own UPDATE comes through here
            pay(loan, "945.60", day)
        return execute(sql, params, many, context)

    paid = []
    with connection.execute_wrapper(pay_before_saving):
        saved = portfolio.refresh_snapshot(day)

    assert saved.is_stale
    summary, _computed_at, is_stale = portfolio.portfolio_figures(day, PEN)
    assert not is_stale
    assert summary == selectors.portfolio_summary(day)


def test_a_new_days_figures_wait_for_a_change_being_committed(transactional_db, make_active_loan):
    """On PostgreSQL a change that marked before the day's row existed did not mark it: the
    computation waits for it to commit. (SQLite makes the row's INSERT wait anyway.)"""
    loan = make_active_loan()
    day = date(2026, 6, 10)
    cache.add(portfolio.REFRESH_KEY, True, timeout=600)  # no refresh of its own on commit
    marked, release, committed, read = (threading.Event() for _ in range(4))
    errors = []

    def change():
        try:
            with transaction.atomic():
                pay(Loan.objects.get(pk=loan.pk), "945.60", day)  # marks: no row of the day yet
                marked.set()
                release.wait(timeout=30)
            committed.set()
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    def read_then_wait_for_the_commit(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if AGING_SQL in sql:
            read.set()
            committed.wait(timeout=30)  # the change commits after the ledger was read...
        return result

    def compute():
        try:
            marked.wait(timeout=30)
            with connection.execute_wrapper(read_then_wait_for_the_commit):
                portfolio.refresh_snapshot(day)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=change), threading.Thread(target=compute)]
    for thread in threads:
        thread.start()
    # ...unless the computation waits for it first: then the read does not come.
    read.wait(timeout=3)
    release.set()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    stored = snapshot(day)
    assert stored.is_stale or portfolio.summary_of(stored, PEN) == selectors.portfolio_summary(day)


def test_the_same_day_computed_at_once_is_saved_once(transactional_db, make_active_loan):
    make_active_loan()
    day = date(2026, 6, 10)  # not today: the disbursement's refresh may have made today's
    start = threading.Barrier(3)
    errors = []

    def compute():
        try:
            start.wait(timeout=30)
            portfolio.refresh_snapshot(day)
        except Exception as exc:  # an IntegrityError on the unique day would land here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=compute) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert PortfolioSnapshot.objects.filter(as_of=day).count() == 1
    assert not snapshot(day).is_stale
    assert portfolio.summary_of(snapshot(day), PEN) == selectors.portfolio_summary(day)


def test_the_bench_times_the_page_first_and_repeated(db):
    out = io.StringIO()

    call_command("bench_credits", installments=500, runs=1, schedules=10, stdout=out)

    output = out.getvalue()
    for case in ("hoy, primera vez", "hoy, repetida", "-30d, primera vez", "-30d, repetida"):
        assert case in output
    assert PortfolioSnapshot.objects.filter(as_of=TODAY, is_stale=False).exists()
