"""The variables a message template may say (`{nombre}`, `{saldo}`…), and their values.

A `VariableSource` offers a few variables for one or both portfolios and loads their values
for many recipients at once: a flow renders 100,000 messages, so a source reads with a
fixed number of queries whatever the number of recipients, never one per recipient.
This module registers the customer, loan and event sources; the recovery app registers
its written-off campaigns' variables from its `AppConfig.ready` (`register_source`), so
this app never imports it.

Values are text as a debtor reads it: money with its currency's symbol and the country's
separators ("S/ 1,234.50"), days as dd/mm/yyyy, "" when there is nothing to say.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from collections_app.models import EventSetting, Portfolio
from credits import selectors as credit_selectors
from credits.models import Loan
from crm import display
from crm.models import Customer
from lib import amounts, bulk
from lib.registry import Registry

LOAN = "loan"
BOTH = (Portfolio.CURRENT.value, Portfolio.WRITTEN_OFF.value)
DATE_FORMAT = "%d/%m/%Y"
# Loans read per query: a flow hands over batches of 1,000 recipients, a preview one; this
# keeps a caller that passes more within every database's limit of query parameters.
CHUNK = 5_000


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, and about which debt.

    `receivable_id`: the loan whose installment is due (a flow step), the event's
    receivable (an event), or None for the customer's live loans taken together.
    `extra` carries an event's values, already written for the debtor ("monto_pago").
    `due_date`, when given, is the day of the installment the message is about (a flow
    step's); without it, the oldest unpaid installment, or the next one.
    """

    customer: Customer
    receivable_kind: str = LOAN
    receivable_id: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    due_date: date | None = None


Loader = Callable[[Sequence[Recipient], date], list[dict[str, str]]]


@dataclass(frozen=True)
class VariableSource:
    """Variables (name → Spanish label) for some portfolios, and how to load their values:
    `load(recipients, today)` returns one dict per recipient, in order."""

    name: str
    variables: Mapping[str, str]
    portfolios: tuple[str, ...]
    load: Loader


_sources: Registry[VariableSource] = Registry("A template variable source")


def register_source(source: VariableSource) -> None:
    """Offer `source`'s variables to templates; a variable another source already offers
    for one of the same portfolios is a configuration error (a template could not tell
    which one it says)."""
    for other_name in _sources.names():
        other = _sources.get(other_name)
        if other is None or other.name == source.name:
            continue
        shared = set(other.portfolios) & set(source.portfolios)
        clash = sorted(set(other.variables) & set(source.variables)) if shared else []
        if clash:
            raise ImproperlyConfigured(
                f"Template variables {clash} of {source.name!r} are offered by {other.name!r}."
            )
    _sources.register(source.name, source)


def unregister_source(name: str) -> None:
    """Forget a source (for tests)."""
    _sources.unregister(name)


def sources_for(portfolio: str) -> list[VariableSource]:
    """Return the sources that serve `portfolio`, by name."""
    found = (_sources.get(name) for name in _sources.names())
    return [source for source in found if source is not None and portfolio in source.portfolios]


def variables_for(portfolio: str) -> dict[str, str]:
    """Return the variables a template of `portfolio` may say, name → label, by name."""
    offered: dict[str, str] = {}
    for source in sources_for(portfolio):
        offered.update({name: str(label) for name, label in source.variables.items()})
    return dict(sorted(offered.items()))


def portfolios_of(variable: str) -> tuple[str, ...]:
    """Return the portfolios whose templates may say `variable` (none: nobody offers it)."""
    offering = [
        source
        for name in _sources.names()
        if (source := _sources.get(name)) is not None and variable in source.variables
    ]
    return tuple(
        portfolio for portfolio in BOTH if any(portfolio in s.portfolios for s in offering)
    )


def load_values(
    recipients: Sequence[Recipient],
    portfolio: str,
    today: date,
    *,
    names: Iterable[str] | None = None,
) -> list[dict[str, str]]:
    """Return each recipient's variable values for a template of `portfolio`, in order.

    With `names` (the variables a template says), only the sources that offer one of them
    are asked: a template that says only `{nombre}` reads no loan.
    """
    wanted = None if names is None else set(names)
    values: list[dict[str, str]] = [{} for _ in recipients]
    if not recipients:
        return values
    for source in sources_for(portfolio):
        if wanted is not None and not wanted & set(source.variables):
            continue
        loaded = source.load(recipients, today)
        for row, found in zip(values, loaded, strict=True):
            row.update(found)
    return values


# --- Customer --------------------------------------------------------------------------------

CUSTOMER_VARIABLES = {
    "nombre": _("Nombres del cliente"),
    "apellido": _("Apellidos del cliente"),
    "nombre_completo": _("Nombres y apellidos"),
    "documento": _("Número de documento"),
}


def _load_customer(recipients: Sequence[Recipient], today: date) -> list[dict[str, str]]:
    # The recipients carry their customer: no query.
    return [
        {
            "nombre": r.customer.first_name,
            "apellido": r.customer.last_name,
            "nombre_completo": r.customer.full_name,
            "documento": r.customer.document_number,
        }
        for r in recipients
    ]


# --- Loans -----------------------------------------------------------------------------------

LOAN_VARIABLES = {
    "saldo": _("Saldo para cancelar hoy (S/ 1,234.50)"),
    "cuota_vencida": _("Monto vencido (S/ 1,234.50)"),
    "fecha_vencimiento": _("Vencimiento de la cuota (dd/mm/aaaa)"),
    "cuota": _("Monto de esa cuota (S/ 1,234.50)"),
    "codigo_pago": _("Código de pago"),
    "dias_atraso": _("Días de atraso"),
    "producto": _("Producto del crédito"),
    "link_pago": _("Enlace al portal de pagos"),
}
_NO_LOAN = dict.fromkeys(LOAN_VARIABLES, "")


def payment_url() -> str:
    """Return the portal's address, where the debtor identifies and pays.

    The portal asks for the document first and reads no payment code from the address,
    so the link is the portal's own.
    """
    return settings.SITE_URL.rstrip("/") + reverse("collections_app:portal_identify")


def _load_loans(recipients: Sequence[Recipient], today: date) -> list[dict[str, str]]:
    """Read the recipients' loans and their installments: two queries per CHUNK loans."""
    named = {r.receivable_id for r in recipients if r.receivable_kind == LOAN and r.receivable_id}
    whole = {r.customer.pk for r in recipients if r.receivable_kind == LOAN and not r.receivable_id}
    loans: dict[int, Loan] = {}
    by_customer: dict[int, list[Loan]] = defaultdict(list)
    fields = (
        "customer_id",
        "product__name",
        "payment_code",
        "currency",
        "days_past_due",
        "status",
        "credit_balance",
    )
    for ids, lookup in ((named, "pk__in"), (whole, "customer_id__in")):
        for chunk in chunks(sorted(ids)):
            query = Loan.objects.select_related("product").only(*fields).order_by("pk")
            if lookup == "customer_id__in":
                query = query.filter(status=Loan.Status.ACTIVE)
            for loan in query.filter(**{lookup: bulk.ids_in(chunk)}):
                loans[loan.pk] = loan
                if lookup == "customer_id__in":
                    by_customer[loan.customer_id].append(loan)
    balances: dict[int, credit_selectors.OpenBalance] = {}
    for chunk in chunks(sorted(loans)):
        balances.update(credit_selectors.open_balances(chunk, today))
    write = amounts.writer()
    link = payment_url()
    rows = []
    for r in recipients:
        if r.receivable_kind != LOAN:
            rows.append(dict(_NO_LOAN))
            continue
        if r.receivable_id:
            theirs = [loans[r.receivable_id]] if r.receivable_id in loans else []
        else:
            theirs = by_customer.get(r.customer.pk, [])
        if not theirs:
            rows.append(dict(_NO_LOAN))
            continue
        rows.append(_loan_values(theirs, balances, r.due_date, write, link, today))
    return rows


def _loan_values(
    loans: list[Loan],
    balances: dict[int, credit_selectors.OpenBalance],
    due_date: date | None,
    write: Callable[[object], str],
    link: str,
    today: date,
) -> dict[str, str]:
    to_settle: dict[str, Decimal] = defaultdict(Decimal)
    overdue: dict[str, Decimal] = defaultdict(Decimal)
    rows: list[tuple[credit_selectors.Figures, str]] = []
    for loan in loans:
        balance = balances.get(loan.pk)
        if balance is None:
            continue
        to_settle[loan.currency] += credit_selectors.settles_with_credit(loan, balance.to_settle)
        overdue[loan.currency] += balance.overdue
        rows.extend((row, loan.currency) for row in balance.open_rows)
    about = _installment_about(rows, due_date)
    late = [(row, currency) for row, currency in rows if row.due_date < today]
    return {
        "saldo": _amounts(to_settle, write),
        "cuota_vencida": _amounts(overdue, write),
        "fecha_vencimiento": about[0].due_date.strftime(DATE_FORMAT) if about else "",
        "cuota": write_amount(about[0].pending, about[1], write) if about else "",
        "codigo_pago": ", ".join(loan.payment_code for loan in loans),
        # From the oldest installment unpaid past its day, as the nightly counts it, but for
        # today: the stored figure is the last night's (a run before it, or after a stop).
        "dias_atraso": str(max((today - row.due_date).days for row, _c in late) if late else 0),
        "producto": ", ".join(dict.fromkeys(loan.product.name for loan in loans)),
        "link_pago": link,
    }


def _installment_about(
    rows: list[tuple[credit_selectors.Figures, str]], due_date: date | None
) -> tuple[credit_selectors.Figures, str] | None:
    """Return the open installment due on `due_date`, or else the oldest one unpaid (an
    overdue one, or the next to fall due)."""
    if due_date is not None:
        found = next((pair for pair in rows if pair[0].due_date == due_date), None)
        if found is not None:
            return found
    return min(rows, key=lambda pair: pair[0].due_date, default=None)


def write_amount(value: Decimal, currency: str, write: Callable[[object], str]) -> str:
    symbol = display.currency_symbol(currency)
    return f"{symbol} {write(value)}" if symbol else write(value)


def _amounts(by_currency: Mapping[str, Decimal], write: Callable[[object], str]) -> str:
    """Write one amount per currency: "S/ 1,234.50", or "S/ 10.00 y US$ 5.00"."""
    if not by_currency:
        return ""
    written = [
        write_amount(value, currency, write) for currency, value in sorted(by_currency.items())
    ]
    return (
        f"{', '.join(written[:-1])} {gettext('y')} {written[-1]}"
        if len(written) > 1
        else written[0]
    )


def chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# --- Events ----------------------------------------------------------------------------------

EVENT_VARIABLES = {
    "monto_pago": _("Monto del pago (eventos de pago)"),
    "fecha_pago": _("Fecha del pago (eventos de pago)"),
    "motivo": _("Motivo del rechazo (pago no verificado)"),
    "monto_compromiso": _("Monto comprometido (compromiso de pago)"),
    "fecha_compromiso": _("Fecha comprometida (compromiso de pago)"),
}


# The event variables each event of the events settings fills (strategies.events.
# event_values); any other event variable is blank in its message, and everywhere else
# (flows, conversations) they all are.
EVENT_VARIABLES_OF: Mapping[str, frozenset[str]] = {
    EventSetting.Event.PROMISE: frozenset({"monto_compromiso", "fecha_compromiso"}),
    EventSetting.Event.TO_VERIFY: frozenset({"monto_pago", "fecha_pago"}),
    EventSetting.Event.REJECTED: frozenset({"monto_pago", "fecha_pago", "motivo"}),
    EventSetting.Event.VERIFIED: frozenset({"monto_pago", "fecha_pago"}),
}


def event_variables_missing(names: Iterable[str], event: str | None) -> list[str]:
    """Return the event variables among `names` that `event` (an events setting's event;
    None: no event, a flow or a reply) does not fill, in their order."""
    filled = EVENT_VARIABLES_OF.get(event, frozenset()) if event else frozenset()
    return [name for name in dict.fromkeys(names) if name in EVENT_VARIABLES and name not in filled]


def _load_event(recipients: Sequence[Recipient], today: date) -> list[dict[str, str]]:
    # The event's values travel with the recipient (strategies.events): no query.
    return [{name: str(r.extra.get(name, "")) for name in EVENT_VARIABLES} for r in recipients]


register_source(
    VariableSource(
        name="customer", variables=CUSTOMER_VARIABLES, portfolios=BOTH, load=_load_customer
    )
)
# The loan's figures speak of the current portfolio; a written-off campaign has its own
# variables (the recovery app's source).
register_source(
    VariableSource(
        name="loan",
        variables=LOAN_VARIABLES,
        portfolios=(Portfolio.CURRENT.value,),
        load=_load_loans,
    )
)
register_source(
    VariableSource(name="event", variables=EVENT_VARIABLES, portfolios=BOTH, load=_load_event)
)
