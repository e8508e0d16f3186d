"""Segments: each rule on its own, the written-off exclusion, and what saving and deleting
refuse."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from collections_app.models import Flow, PaymentPromise, Segment
from collections_app.strategies import segments
from credits import selectors as credit_selectors
from credits.models import Bucket, Loan
from credits.services import loans as loan_services
from tests.collections_app.conftest import TO_SETTLE, TODAY, pay
from tests.factories import (
    BranchFactory,
    CustomerFactory,
    LoanFactory,
    LoanProductFactory,
    TagFactory,
)

Rules = segments.Rules


def members(rules: Rules) -> set[int]:
    return set(segments.customers(rules, TODAY).values_list("pk", flat=True))


@pytest.fixture
def late(make_active_loan):
    """Return a function making a debtor with an active loan `days` late."""

    def make(days: int = 0, **loan_fields):
        loan = make_active_loan(**loan_fields)
        Loan.objects.filter(pk=loan.pk).update(days_past_due=days, bucket=Bucket.for_days(days))
        return loan.customer

    return make


def test_without_rules_every_debtor_with_an_active_loan_is_in(late, make_active_loan):
    debtor = late(0)
    CustomerFactory()  # no loan
    paid_off = make_active_loan()
    Loan.objects.filter(pk=paid_off.pk).update(status=Loan.Status.PAID)
    LoanFactory()  # a draft

    assert members(Rules()) == {debtor.pk}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(10, None, {"late_40"}), (None, 10, {"late_5"}), (5, 40, {"late_5", "late_40"})],
)
def test_the_days_past_due_range_holds_for_the_loan(late, low, high, expected):
    debtors = {"late_5": late(5), "late_40": late(40)}

    found = members(Rules(min_days_past_due=low, max_days_past_due=high))

    assert found == {debtors[name].pk for name in expected}


def test_buckets_pick_loans_in_any_of_them(late):
    current, early, older = late(0), late(20), late(100)

    assert members(Rules(buckets=("current", "90_plus"))) == {current.pk, older.pk}
    assert early.pk not in members(Rules(buckets=("current",)))


def test_the_balance_rule_reads_what_settles_the_loan_today(loan, debtor):
    assert members(Rules(min_balance=TO_SETTLE - 1)) == {debtor.pk}
    assert members(Rules(max_balance=TO_SETTLE + 1)) == {debtor.pk}
    assert members(Rules(min_balance=TO_SETTLE + 1)) == set()
    assert members(Rules(max_balance=TO_SETTLE - 1)) == set()


def test_the_balance_rule_holds_for_loans_in_its_currency_only(loan, debtor, make_active_loan):
    in_dollars = make_active_loan(currency="USD").customer
    low = TO_SETTLE - 1

    assert members(Rules(min_balance=low)) == {debtor.pk}
    assert members(Rules(min_balance=low, balance_currency="USD")) == {in_dollars.pk}
    # Without a balance bound the currency does not restrict.
    assert members(Rules(balance_currency="USD")) == {debtor.pk, in_dollars.pk}


def test_a_segment_says_its_balance_in_its_currency(db):
    segment = Segment.objects.create(
        name="Dólares", min_balance=Decimal("1000"), balance_currency="USD"
    )

    assert "Saldo: desde US$ 1,000.00" in segments.describe(segment)


def test_the_balance_in_sql_is_what_the_ledger_says_settles_each_loan(loan, make_active_loan):
    partly_paid = make_active_loan()
    pay(partly_paid, Decimal("1500.00"), TODAY)
    ids = [loan.pk, partly_paid.pk]

    in_sql = dict(
        Loan.objects.filter(pk__in=ids)
        .annotate(balance=segments.balance_to_settle(TODAY))
        .values_list("pk", "balance")
    )

    expected = credit_selectors.open_balances(ids, TODAY)
    assert {pk: Decimal(value).quantize(Decimal("0.01")) for pk, value in in_sql.items()} == {
        pk: balance.to_settle for pk, balance in expected.items()
    }


def test_products_pick_loans_of_any_of_them(make_active_loan):
    vehicle, consumer = LoanProductFactory(name="Vehicular"), LoanProductFactory(name="Consumo")
    by_vehicle = make_active_loan(product=vehicle).customer
    make_active_loan(product=consumer)

    assert members(Rules(product_ids=(vehicle.pk,))) == {by_vehicle.pk}


def test_branches_are_the_loans_or_else_the_customers(make_active_loan):
    north, south = BranchFactory(name="Norte"), BranchFactory(name="Sur")
    loan_in_north = make_active_loan(branch=north, customer=CustomerFactory(branch=south))
    customer_in_north = make_active_loan(branch=None, customer=CustomerFactory(branch=north))
    loan_in_south = make_active_loan(branch=south, customer=CustomerFactory(branch=north))

    found = members(Rules(branch_ids=(north.pk,)))

    assert found == {loan_in_north.customer_id, customer_in_north.customer_id}
    assert loan_in_south.customer_id not in found


def test_tags_pick_customers_with_any_of_them(late):
    vip, new = TagFactory(name="VIP"), TagFactory(name="Nuevo")
    tagged_vip, tagged_new, untagged = late(3), late(3), late(3)
    tagged_vip.tags.add(vip)
    tagged_new.tags.add(new)

    assert members(Rules(tag_ids=(vip.pk, new.pk))) == {tagged_vip.pk, tagged_new.pk}
    assert untagged.pk not in members(Rules(tag_ids=(vip.pk,)))


def test_excluded_tags_leave_out_customers_with_any_of_them(late):
    lawyer = TagFactory(name="En abogado")
    with_lawyer, plain = late(3), late(3)
    with_lawyer.tags.add(lawyer)

    assert members(Rules(excluded_tag_ids=(lawyer.pk,))) == {plain.pk}


def _contacted(customer, days_ago):
    moment = timezone.make_aware(datetime.combine(TODAY - timedelta(days=days_ago), time(10)))
    type(customer).objects.filter(pk=customer.pk).update(last_interaction_at=moment)


def test_no_contact_picks_those_not_contacted_in_the_last_days_or_never(late):
    never, long_ago, recently = late(3), late(3), late(3)
    type(never).objects.filter(pk=never.pk).update(last_interaction_at=None)
    _contacted(long_ago, 20)
    _contacted(recently, 2)

    assert members(Rules(no_contact_days=7)) == {never.pk, long_ago.pk}


def test_contacted_within_picks_those_contacted_in_the_last_days(late):
    never, long_ago, recently = late(3), late(3), late(3)
    type(never).objects.filter(pk=never.pk).update(last_interaction_at=None)
    _contacted(long_ago, 20)
    _contacted(recently, 2)

    assert members(Rules(contacted_within_days=7)) == {recently.pk}


def _promise(customer, status, days_ago=0):
    loan = customer.loans.get()
    return PaymentPromise.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        amount=Decimal("100.00"),
        promised_on=TODAY - timedelta(days=days_ago),
        status=status,
    )


@pytest.fixture
def promisers(late):
    names = ["pending", "broken", "old_broken", "kept", "old_kept", "none"]
    people = {name: late(3) for name in names}
    _promise(people["pending"], PaymentPromise.Status.PENDING)
    _promise(people["broken"], PaymentPromise.Status.BROKEN, days_ago=10)
    _promise(people["old_broken"], PaymentPromise.Status.BROKEN, days_ago=45)
    _promise(people["kept"], PaymentPromise.Status.KEPT, days_ago=10)
    _promise(people["old_kept"], PaymentPromise.Status.KEPT, days_ago=45)
    return people


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Segment.PromiseStatus.PENDING, {"pending"}),
        (Segment.PromiseStatus.BROKEN, {"broken"}),
        (Segment.PromiseStatus.KEPT, {"kept"}),
        (Segment.PromiseStatus.NONE, {"broken", "old_broken", "kept", "old_kept", "none"}),
    ],
)
def test_the_promise_rule_reads_the_customers_promises(promisers, status, expected):
    assert members(Rules(promise_status=status)) == {promisers[name].pk for name in expected}


def test_a_promise_past_its_day_awaiting_the_nights_verdict_is_not_in_course(late):
    waiting = late(3)
    _promise(waiting, PaymentPromise.Status.PENDING, days_ago=1)  # the 00:30 run not yet

    assert members(Rules(promise_status=Segment.PromiseStatus.PENDING)) == set()
    assert waiting.pk in members(Rules(promise_status=Segment.PromiseStatus.NONE))


def test_a_customer_with_a_written_off_campaign_is_never_in_a_segment(late):
    campaign, other = late(40), late(40)
    castigada = TagFactory(name=segments.CASTIGADA_TAG)
    campaign.tags.add(castigada)

    assert members(Rules()) == {other.pk}
    assert members(Rules(tag_ids=(castigada.pk,))) == set()
    assert segments.count(Rules(min_days_past_due=30), TODAY) == 1


def test_written_off_loans_are_not_in_a_segment(loan, debtor):
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")

    assert members(Rules()) == set()


def test_a_customer_who_asked_not_to_be_contacted_stays_in(late):
    """The message service skips them and says so on their timeline: counts stay honest."""
    opted_out = late(3)
    type(opted_out).objects.filter(pk=opted_out.pk).update(has_opted_out=True)

    assert members(Rules()) == {opted_out.pk}


def test_a_customer_with_two_matching_loans_counts_once(make_active_loan):
    debtor = CustomerFactory()
    make_active_loan(customer=debtor)
    make_active_loan(customer=debtor)

    assert segments.count(Rules(), TODAY) == 1
    assert segments.loans(Rules(), TODAY).count() == 2


def test_a_saved_segments_rules_are_read_and_counted(segment, flow_debtor, late):
    late(60)

    assert segments.count(segment, TODAY) == 1
    assert members(Rules.of(segment)) == {flow_debtor.pk}


def test_counting_a_segment_with_every_rule_is_one_query(django_assert_num_queries, late):
    tag, product, branch = TagFactory(), LoanProductFactory(), BranchFactory()
    rules = Rules(
        min_days_past_due=1,
        max_days_past_due=90,
        buckets=("1_30",),
        min_balance=Decimal("1"),
        max_balance=Decimal("99999"),
        product_ids=(product.pk,),
        branch_ids=(branch.pk,),
        tag_ids=(tag.pk,),
        excluded_tag_ids=(TagFactory().pk,),
        no_contact_days=3,
        contacted_within_days=30,
        promise_status=Segment.PromiseStatus.NONE,
    )

    with django_assert_num_queries(1):
        segments.count(rules, TODAY)


# --- Saving and deleting ------------------------------------------------------------------


def refused(cobranzas, **data) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        segments.save_segment(data={"name": "Prueba", **data}, actor=cobranzas)
    return caught.value.message_dict


def test_a_segment_is_saved_with_its_lists(cobranzas):
    tag, product = TagFactory(name="VIP"), LoanProductFactory()

    segment = segments.save_segment(
        data={"name": "VIP al día", "buckets": ["current"], "tags": [tag], "products": [product]},
        actor=cobranzas,
    )

    assert segment.created_by == cobranzas
    assert list(segment.tags.all()) == [tag]
    assert Rules.of(segment).product_ids == (product.pk,)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"min_days_past_due": 30, "max_days_past_due": 10}, "max_days_past_due"),
        ({"min_balance": Decimal("500"), "max_balance": Decimal("100")}, "max_balance"),
        ({"no_contact_days": 10, "contacted_within_days": 5}, "contacted_within_days"),
        ({"min_days_past_due": 4000}, "min_days_past_due"),
    ],
)
def test_rules_that_contradict_each_other_or_exceed_their_bounds_are_refused(
    cobranzas, data, field
):
    assert field in refused(cobranzas, **data)
    assert not Segment.objects.exists()


def test_a_tag_asked_for_and_excluded_is_refused(cobranzas):
    tag = TagFactory(name="VIP")

    errors = refused(cobranzas, tags=[tag], excluded_tags=[tag])

    assert errors["excluded_tags"] == ["Una etiqueta no puede pedirse y excluirse a la vez: VIP."]


def test_asking_for_the_written_off_tag_is_refused(cobranzas):
    errors = refused(cobranzas, tags=[TagFactory(name=segments.CASTIGADA_TAG)])

    assert "nunca entran en un segmento" in errors["tags"][0]


def test_a_segment_no_flow_uses_is_deleted(segment):
    segments.delete_segment(segment=segment)

    assert not Segment.objects.exists()


def test_a_segment_a_flow_uses_is_not_deleted(segment):
    Flow.objects.create(name="Mora temprana", segment=segment)

    with pytest.raises(ValidationError) as caught:
        segments.delete_segment(segment=segment)

    assert "«Mora temprana»" in caught.value.messages[0]
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_a_segment_is_described_in_words(cobranzas):
    segment = segments.save_segment(
        data={
            "name": "Temprana",
            "min_days_past_due": 1,
            "max_days_past_due": 30,
            "buckets": ["1_30"],
            "min_balance": Decimal("1500"),
            "tags": [TagFactory(name="VIP")],
            "promise_status": Segment.PromiseStatus.BROKEN,
        },
        actor=cobranzas,
    )

    assert segments.describe(segment) == [
        "Días de atraso: de 1 a 30",
        "Tramos: 1–30 días",
        "Saldo: desde S/ 1,500.00",
        "Con etiquetas: VIP",
        "Con compromiso incumplido (30 días)",
    ]
