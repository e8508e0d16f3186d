"""The nightly decision on promises: one that fails (any error, logged with its id) does
not stop the others, and one deleted after it was listed is skipped."""

from datetime import timedelta

import pytest

from collections_app import services
from collections_app.models import PaymentPromise
from tests.collections_app.conftest import INSTALLMENT, TODAY
from tests.collections_app.test_payment_events import promise

pytestmark = pytest.mark.django_db

THREE_DAYS_ON = TODAY + timedelta(days=3)


@pytest.fixture
def two_promises(loan, debtor, make_active_loan):
    other = make_active_loan(customer=debtor)
    return (
        promise(debtor, loan, on=TODAY + timedelta(days=2)),
        promise(debtor, other, amount=INSTALLMENT, on=TODAY + timedelta(days=2)),
    )


def test_a_promise_that_fails_does_not_stop_the_others(two_promises, monkeypatch, caplog):
    bad, good = two_promises
    real = services._resolve_promise

    def resolve(pk):
        if pk == bad.pk:
            raise RuntimeError("a receivable kind no longer registered")
        return real(pk)

    monkeypatch.setattr(services, "_resolve_promise", resolve)

    counts = services.resolve_promises(today=THREE_DAYS_ON)

    assert counts == {"kept": 0, "broken": 1}
    statuses = dict(PaymentPromise.objects.values_list("pk", "status"))
    assert statuses == {
        bad.pk: PaymentPromise.Status.PENDING,
        good.pk: PaymentPromise.Status.BROKEN,
    }
    assert f"Promise {bad.pk} not resolved" in caplog.text


def test_a_promise_deleted_after_it_was_listed_is_skipped(two_promises, monkeypatch):
    gone, kept_on = two_promises
    real = services._resolve_promise

    def resolve(pk):
        if pk == gone.pk:
            PaymentPromise.objects.filter(pk=pk).delete()
        return real(pk)

    monkeypatch.setattr(services, "_resolve_promise", resolve)

    counts = services.resolve_promises(today=THREE_DAYS_ON)

    assert counts == {"kept": 0, "broken": 1}
    assert PaymentPromise.objects.get().pk == kept_on.pk
