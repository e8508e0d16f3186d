"""Keep the dashboards' summary current (`StateMonthSummary`, `ChannelMonthSummary`).

A refresh rebuilds, from the gestiones, the months of creation whose gestiones changed
since the previous refresh (a gestión's `updated_at` moves on every save and on the
services' own updates); once a day, or when nothing was built yet, it rebuilds every
month. Each rebuilt month is deleted and grouped again with one INSERT … SELECT … GROUP BY
per table and layer, all in one transaction, so readers see the old figures or the new
ones and never half of them.
"""

import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, DateField, F, IntegerField, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone

from crm.gestiones.models import ChannelMonthSummary, Gestion, StateMonthSummary, SummaryBuild

# How often beat runs `gestiones.refresh_report_summary` (config/settings.py); the
# dashboards tell their readers.
REFRESH_MINUTES = 5
# A gestión saved inside a transaction that commits later carries an `updated_at` older
# than its commit, which a refresh running in between could not see: each refresh looks
# back this far before the previous one.
LOOK_BACK = timedelta(hours=1)
# Anything that changed a gestión without moving `updated_at` (a fix in SQL, a product
# link changed by hand) is caught by the full rebuild at least this often.
FULL_EVERY = timedelta(days=1)

# Each summary table's keys, as (its field, the gestión's field) in insert order.
KEYS = {
    StateMonthSummary: (
        ("gestion_type", "gestion_type_id"),
        ("agent", "agent_id"),
        ("branch", "branch_id"),
        ("currency", "currency"),
        ("state", "state_id"),
        ("outcome", "outcome"),
        ("rejection_reason", "rejection_reason_id"),
    ),
    ChannelMonthSummary: (
        ("gestion_type", "gestion_type_id"),
        ("agent", "agent_id"),
        ("branch", "branch_id"),
        ("currency", "currency"),
        ("outcome", "outcome"),
        ("channel", "channel_id"),
    ),
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
        for model in KEYS:
            _rebuild(model, months)
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


def _rebuild(model, months: list[date] | None) -> None:
    """Replace `model`'s rows of `months` (all of them if None) with fresh groups."""
    rows = model.objects.all()
    gestiones = Gestion.objects.order_by()
    links = Gestion.products.through.objects.order_by()
    if months is not None:
        rows = rows.filter(month__in=months)
        gestiones = gestiones.filter(_created_in(months, "created_at"))
        links = links.filter(_created_in(months, "gestion__created_at"))
    rows.delete()
    keys = KEYS[model]
    # Every gestión once, with no product: what a dashboard without a product filter reads.
    _insert(
        model,
        gestiones,
        {"month": _month("created_at"), "product": Value(None, output_field=IntegerField())},
        keys,
        "",
    )
    # Every gestión once per product linked to it: what a product filter reads.
    _insert(
        model,
        links,
        {"month": _month("gestion__created_at"), "product": F("product_id")},
        keys,
        "gestion__",
    )


def _insert(model, source: QuerySet, first: dict, keys: Iterable[tuple[str, str]], path: str):
    """INSERT … SELECT the groups of `source` into `model`: the ORM writes the SELECT, so
    each database gets its own month truncation in the local time zone."""
    # The aliases must not collide with the source's field names, hence the prefix.
    columns = {f"k_{name}": expression for name, expression in first.items()}
    columns |= {f"k_{name}": F(path + field) for name, field in keys}
    groups = source.values(**columns).annotate(
        k_count=Count("pk"),
        k_requested=Sum(path + "amount_requested"),
        k_approved=Sum(path + "amount_approved"),
    )
    names = [
        alias.removeprefix("k_") for alias in [*columns, "k_count", "k_requested", "k_approved"]
    ]
    quote = connection.ops.quote_name
    target = ", ".join(quote(model._meta.get_field(name).column) for name in names)
    sql, params = groups.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({target}) {sql}", params)


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
