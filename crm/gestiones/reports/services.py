"""Keep the dashboards' summary current: `StateMonthSummary`, `RejectionMonthSummary`,
`OutcomeMonthSummary` and `ChannelMonthSummary`, one table per section.

A refresh rebuilds, from the gestiones, the months of creation whose gestiones changed
since the previous refresh (a gestión's `updated_at` moves on every save and on the
services' own updates); once a day, or when nothing was built yet, it rebuilds every
month. It groups the gestiones of those months once by every key any section needs (a
temporary table, both layers), then each section's table from that, all in one
transaction, so readers see the old figures or the new ones and never half of them.
"""

import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, DateField, F, IntegerField, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, TruncMonth
from django.utils import timezone

from crm.gestiones.models import (
    ChannelMonthSummary,
    Gestion,
    OutcomeMonthSummary,
    RejectionMonthSummary,
    StateMonthSummary,
    SummaryBuild,
)
from crm.gestiones.models.processes import Outcome

# How often beat runs `gestiones.refresh_report_summary` (config/settings.py); the
# dashboards tell their readers.
REFRESH_MINUTES = 5
# A summary older than this has missed refreshes (beat or the worker is down, or a
# refresh keeps failing): the dashboards say so instead of promising the next one.
STALE_AFTER = timedelta(minutes=3 * REFRESH_MINUTES)
# A gestión saved inside a transaction that commits later carries an `updated_at` older
# than its commit, which a refresh running in between could not see: each refresh looks
# back this far before the previous one.
LOOK_BACK = timedelta(hours=1)
# Anything that changed a gestión without moving `updated_at` (a fix in SQL, a product
# link changed by hand, a deletion) is caught by the full rebuild at least this often.
FULL_EVERY = timedelta(days=1)

SCRATCH = "gestiones_summary_scratch"  # the temporary table of the finest groups
# What every summary row is keyed by besides the month and the product.
FILTER_KEYS = ("gestion_type_id", "agent_id", "branch_id", "currency")
# The finest groups: every key any section needs, as the gestión's columns.
FINE_KEYS = (*FILTER_KEYS, "state_id", "outcome", "rejection_reason_id", "channel_id")
# Each section's table: its own keys, and which gestiones it holds (None: all).
SECTIONS = {
    StateMonthSummary: (("state_id",), None),
    RejectionMonthSummary: (("state_id", "rejection_reason_id"), Outcome.REJECTED),
    OutcomeMonthSummary: (("outcome",), None),
    ChannelMonthSummary: (("outcome", "channel_id"), None),
}


@transaction.atomic
def refresh_summary(*, full: bool = False) -> SummaryBuild:
    """Rebuild the summary's changed months (every month if `full`, if it was never built
    or if its last full rebuild is a day old) and record when."""
    started = time.perf_counter()
    now = timezone.now()
    # Two refreshes at once wait for each other here. The very first one has no row to
    # lock: a concurrent twin fails on the row's primary key and rolls back.
    build = SummaryBuild.objects.select_for_update().filter(pk=1).first()
    full = full or build is None or build.full_built_at <= now - FULL_EVERY
    months = None if full else changed_months(since=build.built_at - LOOK_BACK)
    if months != []:
        _rebuild(months)
    span = Gestion.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    build = SummaryBuild(
        pk=1,
        built_at=now,
        full_built_at=now if full else build.full_built_at,
        first_day=_local_day(span["first"]),
        last_day=_local_day(span["last"]),
        seconds=round(time.perf_counter() - started, 3),
    )
    build.save()
    return build


def is_stale(summary: SummaryBuild, *, now: datetime | None = None) -> bool:
    """Return whether the summary has missed its refreshes."""
    return summary.built_at < (now or timezone.now()) - STALE_AFTER


def changed_months(*, since: datetime) -> list[date]:
    """Return the months of creation of the gestiones saved since `since`, oldest first."""
    # No index on updated_at: one scan of the table, a fraction of a second per million.
    months = (
        Gestion.objects.order_by()
        .filter(updated_at__gte=since)
        .values_list(_month("created_at"), flat=True)
        .distinct()
    )
    return sorted(months)


def _rebuild(months: list[date] | None) -> None:
    """Replace every section's rows of `months` (all of them if None) with fresh groups."""
    gestiones = Gestion.objects.order_by()
    links = Gestion.products.through.objects.order_by()
    if months is not None:
        gestiones = gestiones.filter(_created_in(months, "created_at"))
        links = links.filter(_created_in(months, "gestion__created_at"))
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {quote(SCRATCH)}")
        # Every gestión once, with no product: what a dashboard without a product filter
        # reads. The product column is typed so that the product layer fits in it.
        no_product = Cast(Value(None), output_field=IntegerField())
        sql, params = _fine(gestiones, _month("created_at"), no_product, "")
        cursor.execute(f"CREATE TEMPORARY TABLE {quote(SCRATCH)} AS {sql}", params)
        # Every gestión once per product linked to it: what a product filter reads.
        sql, params = _fine(links, _month("gestion__created_at"), F("product_id"), "gestion__")
        cursor.execute(f"INSERT INTO {quote(SCRATCH)} {sql}", params)
        # A temporary table has no statistics until asked (autovacuum never sees it).
        cursor.execute(f"ANALYZE {quote(SCRATCH)}")
        for model, (keys, outcome) in SECTIONS.items():
            _delete_months(cursor, model, months)
            _insert_section(cursor, model, keys, outcome)
        cursor.execute(f"DROP TABLE {quote(SCRATCH)}")


def _delete_months(cursor, model, months: list[date] | None) -> None:
    """Delete `model`'s rows of `months` (all if None) in one statement.

    Not QuerySet.delete(): with any post_delete receiver in the project (lib.lists has one
    for every model) it reads every row and deletes them a hundred at a time, minutes for
    a full rebuild; derived rows need no signal.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    if months is None:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table's quoted name
        return
    marks = ", ".join(["%s"] * len(months))
    cursor.execute(f"DELETE FROM {table} WHERE month IN ({marks})", months)  # noqa: S608


def _fine(source: QuerySet, month, product, path: str) -> tuple[str, tuple]:
    """Return the SELECT of `source` grouped by month, product and every key: the ORM
    writes it, so each database gets its own month truncation in the local time zone."""
    # Aliases are the summary's column names; the prefix keeps them clear of the source's
    # field names, which the ORM refuses as aliases.
    columns = {"k_month": month, "k_product_id": product}
    columns |= {f"k_{key}": F(path + key) for key in FINE_KEYS}
    groups = source.values(**columns).annotate(
        k_count=Count("pk"),
        k_requested=Sum(path + "amount_requested"),
        k_approved=Sum(path + "amount_approved"),
    )
    sql, params = groups.query.sql_with_params()
    return sql, params


def _insert_section(cursor, model, keys: tuple[str, ...], outcome: str | None) -> None:
    """Group the scratch table's rows into `model`'s by its keys."""
    quote = connection.ops.quote_name
    group = ", ".join(quote(c) for c in ("k_month", "k_product_id", *_k(FILTER_KEYS), *_k(keys)))
    target = ", ".join(
        quote(c)
        for c in ("month", "product_id", *FILTER_KEYS, *keys, "count", "requested", "approved")
    )
    where, params = ("WHERE k_outcome = %s", [outcome]) if outcome else ("", [])
    # Only quoted names of our own tables and columns go in the text; values are params.
    cursor.execute(
        f"INSERT INTO {quote(model._meta.db_table)} ({target}) "  # noqa: S608
        f"SELECT {group}, SUM(k_count), SUM(k_requested), SUM(k_approved) "
        f"FROM {quote(SCRATCH)} {where} GROUP BY {group}",
        params,
    )


def _k(keys: Iterable[str]) -> list[str]:
    return [f"k_{key}" for key in keys]


def _month(field: str) -> TruncMonth:
    """The first day of the month of creation in the local time zone, as the raw reports."""
    return TruncMonth(field, output_field=DateField(), tzinfo=timezone.get_default_timezone())


def _created_in(months: Iterable[date], field: str) -> Q:
    """Return the condition "created in one of `months`", as ranges on `field` (the index
    on created_at serves them)."""
    condition = Q()
    for month in months:
        end = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        condition |= Q(**{f"{field}__gte": _midnight(month), f"{field}__lt": _midnight(end)})
    return condition


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_default_timezone())


def _local_day(moment: datetime | None) -> date | None:
    return timezone.localtime(moment, timezone.get_default_timezone()).date() if moment else None
