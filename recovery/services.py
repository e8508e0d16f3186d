"""The written-off campaigns' writes: make, finish and pay a campaign, and keep the
`Cartera castigada` tag on the customers who have an active one.

Every screen, the import, the API, the portal and the daily task call these. A campaign
payment is the campaign's alone: the loan it comes from is never touched.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any, TypeVar

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app import selectors as collection_selectors
from collections_app import services as collection_services
from collections_app.models import (
    WITHDRAWABLE_LINK,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from collections_app.receivables import LOAN
from collections_app.strategies.segments import CASTIGADA_TAG
from credits import selectors as credit_selectors
from credits.models import Loan, Payment
from crm import display
from crm import services as crm_services
from crm.models import Customer, ImportBatch, Interaction, Tag
from lib import amounts, bulk, money, people, repeats
from recovery import selectors
from recovery.models import (
    HUNDRED,
    MAX_DEBT,
    RECEIVABLE_KIND,
    ZERO,
    Campaign,
    CampaignPayment,
    RecoverySettings,
)

# Read once: the enum builds its list anew on every access (a row each, on an import).
DISCOUNT_TYPES = frozenset(Campaign.DiscountType.values)

CENT = Decimal("0.01")
MAX_CODE = 30
# An end date further ahead is a typing mistake (2062 for 2026), not a campaign.
MAX_END_YEARS = 10
# A campaign's debt beyond this many times the balance of the loan it names, or below its
# share, is a typing mistake (12,000,000 or 12 for 12,000), not a written-off debt.
DEBT_TOLERANCE = 2


def _money(currency: str, value: Decimal) -> str:
    return f"{currency} {amounts.writer()(value)}"


# --- Figures and checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What a campaign's debt and discount come to."""

    discount_amount: Decimal
    amount: Decimal


def percent_text(value: Decimal) -> str:
    """A percentage as messages write it: 95, 92.5, 99.99 (no trailing zeros)."""
    return f"{value.normalize():f}"


def max_discount() -> Decimal:
    """Return the highest discount a campaign may have, in percent of its debt."""
    return RecoverySettings.current().max_discount_percent


def campaign_figures(
    *,
    debt_amount: Decimal,
    discount_type: str,
    discount_value: Decimal,
    max_discount_percent: Decimal | None = None,
) -> tuple[Figures | None, list[str]]:
    """Return the discount and the campaign amount, or None and what is wrong, in Spanish.

    A percentage discount is rounded half up to the cent. The campaign amount must stay
    above zero: a discount of the whole debt is no offer. Neither kind of discount may pass
    `max_discount_percent` of the debt (read from the portal's settings when not given: an
    import reads it once).
    """
    problems: list[str] = []
    if debt_amount <= 0:
        problems.append(_("El monto de deuda castigada debe ser mayor que cero."))
    elif debt_amount > MAX_DEBT:
        problems.append(
            _("El monto de deuda castigada no puede pasar de %(max)s.")
            % {"max": display.amount(MAX_DEBT)}
        )
    if discount_value < 0:
        problems.append(_("El valor del descuento no puede ser negativo."))
    if discount_type not in DISCOUNT_TYPES:
        problems.append(_("El tipo de descuento debe ser «Porcentaje» o «Monto»."))
    if problems:
        return None, problems
    if max_discount_percent is None:
        max_discount_percent = max_discount()
    if discount_type == Campaign.DiscountType.PERCENT:
        if discount_value >= HUNDRED:
            return None, [_("El descuento debe ser menor que el 100 %.")]
        if discount_value > max_discount_percent:
            return None, [
                _("El descuento de %(percent)s %% pasa del máximo de %(max)s %%%(where)s.")
                % {
                    "percent": percent_text(discount_value),
                    "max": percent_text(max_discount_percent),
                    "where": _where_the_ceiling_changes(),
                }
            ]
        discount = (debt_amount * discount_value / HUNDRED).quantize(CENT, ROUND_HALF_UP)
    else:
        if discount_value >= debt_amount:
            return None, [
                _("El descuento (%(discount)s) debe ser menor que la deuda (%(debt)s).")
                % {"discount": display.amount(discount_value), "debt": display.amount(debt_amount)}
            ]
        if discount_value * HUNDRED > max_discount_percent * debt_amount:
            # Rounded up, so the share said is above the maximum it breaks (95.001: 95.01).
            share = (discount_value * HUNDRED / debt_amount).quantize(CENT, ROUND_UP)
            return None, [
                _(
                    "El descuento (%(discount)s) es el %(percent)s %% de la deuda (%(debt)s) y "
                    "pasa del máximo de %(max)s %%%(where)s."
                )
                % {
                    "discount": display.amount(discount_value),
                    "percent": percent_text(share),
                    "debt": display.amount(debt_amount),
                    "max": percent_text(max_discount_percent),
                    "where": _where_the_ceiling_changes(),
                }
            ]
        discount = discount_value.quantize(CENT, ROUND_HALF_UP)
    if discount >= debt_amount:
        # Rounded to the cent, a discount below the debt may still take all of it (50 % of
        # 0.01): the campaign would ask for 0.00.
        return None, [
            _(
                "Con ese descuento la campaña quedaría en 0.00: la deuda de %(debt)s es "
                "demasiado pequeña para descontarle %(discount)s."
            )
            % {"debt": display.amount(debt_amount), "discount": display.amount(discount)}
        ]
    return Figures(discount_amount=discount, amount=debt_amount - discount), []


def _where_the_ceiling_changes() -> str:
    return _(
        " (se cambia en Administración › Recuperación › Portal de cartera castigada, "
        "«descuento máximo de una campaña»)"
    )


def check_code(code: str) -> list[str]:
    if not code:
        return [_("Falta el ID de campaña.")]
    if len(code) > MAX_CODE:
        return [_("El ID de campaña tiene más de %(n)s caracteres.") % {"n": MAX_CODE}]
    return []


def latest_end(today: date) -> date:
    """Return the furthest end date a campaign may have (screens, file and API alike): the
    same day, ten years on, as the API's documentation says (29 February becomes the 28th)."""
    return today + relativedelta(years=MAX_END_YEARS)


def check_end_date(ends_on: date | None, *, today: date) -> list[str]:
    """A campaign made already ended would be finished before anyone saw it; one ending
    decades ahead is a typing mistake."""
    if ends_on is not None and ends_on < today:
        return [_("La fecha de finalización (%(day)s) ya pasó.") % {"day": f"{ends_on:%d/%m/%Y}"}]
    if ends_on is not None and ends_on > latest_end(today):
        return [
            _("La fecha de finalización (%(day)s) pasa del %(last)s.")
            % {"day": f"{ends_on:%d/%m/%Y}", "last": f"{latest_end(today):%d/%m/%Y}"}
        ]
    return []


# A campaign settles a written-off loan instead of it (its cover: the loan's debt is no
# longer asked for). An active loan named by a campaign was asked for twice: the bot added
# both debts, and the campaign paid left the loan owed in full.
DEBT_STATUSES = (Loan.Status.WRITTEN_OFF,)


def loan_status_problem(payment_code: str, status: str) -> str | None:
    """Say why a loan in this status cannot be a campaign's; None if it can."""
    if status in DEBT_STATUSES:
        return None
    if status == Loan.Status.ACTIVE:
        return _(
            "El crédito %(code)s está vigente: una campaña de cartera castigada es de un "
            "crédito castigado. Castíguelo antes (en su página, «Castigar») o deje el código "
            "de pago en blanco."
        ) % {"code": payment_code}
    return _(
        "El crédito %(code)s no tiene deuda pendiente (estado: %(status)s): indique uno "
        "castigado, o deje el código de pago en blanco."
    ) % {"code": payment_code, "status": Loan.Status(status).label}


def loan_for_code(customer_id: int | None, payment_code: str) -> tuple[Loan | None, list[str]]:
    """Return the customer's loan with this payment code (blank: none, no problem)."""
    if not payment_code:
        return None, []
    loan = (
        Loan.objects.filter(payment_code=payment_code)
        .only("pk", "customer_id", "currency", "status")
        .first()
    )
    if loan is None:
        return None, [
            _("No existe un crédito con el código de pago %(code)s.") % {"code": payment_code}
        ]
    if customer_id is not None and loan.customer_id != customer_id:
        return None, [_("El crédito %(code)s no es de este cliente.") % {"code": payment_code}]
    if problem := loan_status_problem(payment_code, loan.status):
        return None, [problem]
    return loan, []


def loans_owed(loan_ids: Iterable[int]) -> dict[int, Decimal]:
    """Return what each loan owes today (`credits.selectors.loan_balance`'s total due), for
    many loans in one query: the import's rows and the screen's one read it alike."""
    figures = credit_selectors.installment_figures(loan_ids, open_only=True)
    return {pk: sum((row.pending for row in rows), ZERO) for pk, rows in figures.items()}


def debt_problem(
    *, debt_amount: Decimal, owed: Decimal, payment_code: str, currency: str
) -> str | None:
    """Say why a campaign's debt cannot be the written-off debt of a loan owing `owed`
    (more than twice it, or less than half); None if it can."""
    if debt_amount <= owed * DEBT_TOLERANCE and debt_amount * DEBT_TOLERANCE >= owed:
        return None
    return _(
        "La deuda castigada (%(debt)s) no se parece al saldo del crédito %(code)s "
        "(%(owed)s): revise el monto."
    ) % {
        "debt": display.money_text(debt_amount, currency),
        "code": payment_code,
        "owed": display.money_text(owed, currency),
    }


# --- The campaign's currency ----------------------------------------------------------------

# What a file, the API or the form may say for a currency (normalized: lower case, no
# accents, no dots or spaces at the ends: «S/.» is «s/»).
# A customer without a written-off loan: a blank-code campaign of a debt outside the book
# is in soles unless its currency is given (what every campaign was before a currency
# could be given).
DEFAULT_CURRENCY = money.Currency.PEN.value


def _currency_words(code: str) -> str:
    return {
        money.Currency.PEN.value: _("soles (S/)"),
        money.Currency.USD.value: _("dólares (US$)"),
    }.get(code, code)


def campaign_currency(
    *, payment_code: str, loan_currency: str | None, written_off: Iterable[str], given: str = ""
) -> tuple[str, dict[str, str]]:
    """Return the currency of a new campaign and why it cannot be made, by field
    ("payment_code", "currency"; empty when it can).

    Named by its payment code, the loan's (`loan_currency`). With a blank code, that of the
    customer's written-off loans (`written_off`, their currencies), which it covers: a
    customer with written-off loans in soles and in dollars must name one (one campaign
    settles one currency). A customer with none: `given`, or soles. A currency given
    (`given`, the file's, the API's or the form's) must be the one the loans say.
    """
    if payment_code:
        currency = loan_currency or given or DEFAULT_CURRENCY
        if given and loan_currency and given != loan_currency:
            return currency, {
                "currency": _(
                    "La moneda indicada (%(given)s) no es la del crédito %(code)s, que es en "
                    "%(theirs)s."
                )
                % {"given": given, "code": payment_code, "theirs": _currency_words(loan_currency)}
            }
        return currency, {}
    found = sorted(set(written_off))
    if len(found) > 1:
        return DEFAULT_CURRENCY, {
            "payment_code": _(
                "El cliente tiene créditos castigados en soles y en dólares: indique el "
                "código de pago."
            )
        }
    if not found:
        return given or DEFAULT_CURRENCY, {}
    if given and given != found[0]:
        return found[0], {
            "currency": _(
                "La moneda indicada (%(given)s) no es la de los créditos castigados del "
                "cliente, que son en %(theirs)s."
            )
            % {"given": given, "theirs": _currency_words(found[0])}
        }
    return found[0], {}


def written_off_currencies(customer_id: int) -> set[str]:
    """Return the currencies of the customer's written-off loans (one query)."""
    return set(
        Loan.objects.filter(customer_id=customer_id, status=Loan.Status.WRITTEN_OFF)
        .values_list("currency", flat=True)
        .distinct()
    )


# --- Making campaigns ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCampaign:
    """A campaign to make, checked (the import's rows, the API's and the screen's)."""

    customer_id: int
    code: str
    debt_amount: Decimal
    discount_type: str
    discount_value: Decimal
    figures: Figures
    ends_on: date | None
    payment_code: str
    currency: str


def active_refusal(code: str) -> str:
    return _("El cliente ya tiene una campaña activa (%(code)s).") % {"code": code}


@transaction.atomic
def create_campaign(
    *,
    customer: Customer,
    code: str,
    debt_amount: Decimal,
    discount_type: str,
    discount_value: Decimal,
    ends_on: date | None,
    payment_code: str = "",
    currency: str = "",
    actor: AbstractBaseUser | None,
    source: str = "",
) -> Campaign:
    """Make one campaign, tag the customer and put it on the timeline (`source` says who
    made it when no person did: «por la API (Core bancario)»).

    It covers the loan its payment code names, or, with a blank code, the customer's
    written-off loans now (`Campaign.loans`), in their currency; `currency` (PEN, USD; blank:
    theirs) must be that one (`campaign_currency`).

    Refuse (ValidationError, by field) what the file, the API and the screen refuse: a
    discount not below the debt or above the settings' maximum, negative amounts, a debt
    unlike the balance of the loan named, an end date gone, a payment code of another
    customer, a second active campaign (also when two requests race: the
    database's constraint decides).
    """
    today = timezone.localdate()
    code = (code or "").strip()
    payment_code = (payment_code or "").strip()
    errors: dict[str, list[str]] = {}
    if problems := check_code(code):
        errors["code"] = problems
    figures, problems = campaign_figures(
        debt_amount=debt_amount, discount_type=discount_type, discount_value=discount_value
    )
    if problems:
        errors["discount_value"] = problems
    if problems := check_end_date(ends_on, today=today):
        errors["ends_on"] = problems
    given = money.read_currency(currency)
    if given is None:
        errors["currency"] = [money.currency_refusal(currency)]
    loan, problems = loan_for_code(customer.pk, payment_code)
    chosen = DEFAULT_CURRENCY
    if problems:
        errors["payment_code"] = problems
    else:
        chosen, refusals = campaign_currency(
            payment_code=payment_code,
            loan_currency=loan.currency if loan is not None else None,
            written_off=() if payment_code else written_off_currencies(customer.pk),
            given=given or "",
        )
        for field, problem in refusals.items():
            errors.setdefault(field, []).append(problem)
    if loan is not None and figures is not None:
        owed = loans_owed([loan.pk])[loan.pk]
        if problem := debt_problem(
            debt_amount=debt_amount, owed=owed, payment_code=payment_code, currency=loan.currency
        ):
            errors["debt_amount"] = [problem]
    # The open links of the loans it would cover, before the customer: a gateway's payment
    # locks its link, then writes the customer's timeline (the other order could deadlock).
    covered = Loan.objects.filter(customer=customer, status=Loan.Status.WRITTEN_OFF)
    if payment_code:
        covered = covered.filter(payment_code=payment_code)
    _lock_open_links(list(covered.values_list("pk", flat=True)), LOAN)
    # One at a time per customer, with a payment's annulment that may reopen a campaign:
    # the second sees the first's (the constraint alone made one of them a server error).
    crm_services.lock_current_customer(customer.pk)
    active = Campaign.objects.filter(customer=customer, status=Campaign.Status.ACTIVE).first()
    if active is not None:
        errors.setdefault("__all__", []).append(active_refusal(active.code))
    if code and Campaign.objects.filter(customer=customer, code=code).exists():
        errors.setdefault("code", []).append(
            _("El cliente ya tuvo la campaña %(code)s.") % {"code": code}
        )
    if errors:
        raise ValidationError(errors)
    assert figures is not None
    new = NewCampaign(
        customer_id=customer.pk,
        code=code,
        debt_amount=debt_amount,
        discount_type=discount_type,
        discount_value=discount_value,
        figures=figures,
        ends_on=ends_on,
        payment_code=payment_code,
        currency=chosen,
    )
    try:
        with transaction.atomic():
            (pk,) = copy_campaigns([new], actor=actor, batch=None, source=source)
    except IntegrityError as exc:
        # Another one became active meanwhile (made at the same moment, or a payment's
        # annulment reopened one): the refusal names that one.
        active_code = (
            Campaign.objects.filter(customer=customer, status=Campaign.Status.ACTIVE)
            .values_list("code", flat=True)
            .first()
        )
        raise ValidationError(active_refusal(active_code or code)) from exc
    return Campaign.objects.select_related("customer").get(pk=pk)


# --- Ending campaigns ------------------------------------------------------------------------


def _untag(customer_ids: Iterable[int]) -> None:
    """Remove the tag from customers left without an active campaign."""
    ids = set(customer_ids)
    if not ids:
        return
    still = set(
        Campaign.objects.filter(customer_id__in=ids, status=Campaign.Status.ACTIVE).values_list(
            "customer_id", flat=True
        )
    )
    Customer.tags.through.objects.filter(
        tag__name=CASTIGADA_TAG, customer_id__in=ids - still
    ).delete()


def _tag(customer_id: int) -> None:
    tag, _created = Tag.objects.get_or_create(name=CASTIGADA_TAG)
    Customer.tags.through.objects.get_or_create(customer_id=customer_id, tag=tag)


@transaction.atomic
def finish_ended(*, today: date | None = None) -> int:
    """Finish every active campaign whose end date is before `today`; return how many.

    The daily task runs it, and every screen and the portal before they read campaigns,
    so a campaign is never shown active the day after it ended. Their open payment
    links, promises and agreements are withdrawn, as when one is finished by hand. One
    query when nothing ended.
    """
    today = today or timezone.localdate()
    due = list(
        Campaign.objects.filter(status=Campaign.Status.ACTIVE, ends_on__lt=today).values_list(
            "pk", flat=True
        )
    )
    if not due:
        return 0
    _lock_open_links(due)
    ended = list(
        Campaign.objects.select_for_update(skip_locked=True)
        .filter(pk__in=due, status=Campaign.Status.ACTIVE, ends_on__lt=today)
        .values_list("pk", "customer_id", "code", "ends_on")
    )
    if not ended:
        return 0
    now = timezone.now()
    Campaign.objects.filter(pk__in=[pk for pk, *_rest in ended]).update(
        status=Campaign.Status.FINISHED, finished_at=now
    )
    _untag(customer_id for _pk, customer_id, *_rest in ended)
    Interaction.objects.bulk_create(
        [
            Interaction(
                customer_id=customer_id,
                kind=Interaction.Kind.SYSTEM,
                summary=_(
                    "Campaña de cartera castigada %(code)s finalizada: terminó el %(day)s; "
                    "etiqueta «%(tag)s» quitada"
                )
                % {"code": code, "day": f"{ends_on:%d/%m/%Y}", "tag": CASTIGADA_TAG},
                payload={"recovery_campaign": pk},
                occurred_at=now,
            )
            for pk, customer_id, code, ends_on in ended
        ]
    )
    _withdraw_open_offers(
        {
            pk: _("campaña %(code)s terminada el %(day)s")
            % {"code": code, "day": f"{ends_on:%d/%m/%Y}"}
            for pk, _customer_id, code, ends_on in ended
        },
        actor=None,
        today=today,
    )
    return len(ended)


@transaction.atomic
def finish_campaign(
    *, campaign: Campaign, actor: AbstractBaseUser | None, reason: str = ""
) -> Campaign:
    """Finish an active campaign now (an agent, the API); the offer ends with it: its open
    payment links, promises and agreements are withdrawn, each on the timeline."""
    _lock_open_links([campaign.pk])
    campaign = _locked_campaign(campaign.pk)
    if campaign.status != Campaign.Status.ACTIVE:
        raise ValidationError(
            _("La campaña %(code)s no está activa (%(status)s).")
            % {"code": campaign.code, "status": campaign.get_status_display().lower()}
        )
    campaign.status = Campaign.Status.FINISHED
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    _untag([campaign.customer_id])
    summary = _("Campaña de cartera castigada %(code)s finalizada; etiqueta «%(tag)s» quitada") % {
        "code": campaign.code,
        "tag": CASTIGADA_TAG,
    }
    if reason.strip():
        summary += f" ({reason.strip()[:200]})"
    crm_services.record_interaction(
        customer=campaign.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary,
        actor=actor,
        payload={"recovery_campaign": campaign.pk},
    )
    _withdraw_open_offers(
        {campaign.pk: _("campaña %(code)s finalizada") % {"code": campaign.code}}, actor=actor
    )
    return campaign


@dataclass(frozen=True)
class OpenOffers:
    """What a campaign still offers its debtor, and finishing it withdraws: payment links
    not paid nor ended, promises in course (their day not past: `collection_selectors.
    in_course`; not an agreement's installments: those go with their agreement) and
    agreements waiting for their down payment."""

    links: list[PaymentLink]
    promises: list[PaymentPromise]
    agreements: list[PaymentAgreement]

    def __bool__(self) -> bool:
        return bool(self.links or self.promises or self.agreements)


def open_offers(campaign: Campaign) -> OpenOffers:
    """Return what is still open on the campaign (its finish confirmation lists it)."""
    return _open_offers([campaign.pk])


def _open_on(
    kind: str, *, today: date | None = None, **receivable
) -> tuple[QuerySet[PaymentLink], QuerySet[PaymentPromise], QuerySet[PaymentAgreement]]:
    """What is open on the receivables of `kind` that `receivable` filters (ids, or an
    outer reference): links not paid nor ended, promises in course on `today` (as the
    collections screens say: `collection_selectors.in_course`) but an agreement's
    installments, and agreements waiting for their down payment."""
    of = {"receivable_kind": kind, **receivable}
    return (
        PaymentLink.objects.filter(**of, status__in=WITHDRAWABLE_LINK),
        PaymentPromise.objects.filter(
            collection_selectors.in_course(today or timezone.localdate()),
            **of,
            agreement__isnull=True,
        ),
        PaymentAgreement.objects.filter(**of, status=PaymentAgreement.Status.PENDING),
    )


def _awaiting_verdict(kind: str, *, today: date, **receivable) -> QuerySet[PaymentPromise]:
    """The promises on the receivables of `kind` that `receivable` filters whose day has
    passed, the nightly's verdict still to come (`selectors.promises_awaiting_verdict`), but
    an agreement's installments."""
    return PaymentPromise.objects.filter(
        selectors.promises_awaiting_verdict(today),
        receivable_kind=kind,
        agreement__isnull=True,
        **receivable,
    )


def pending_on_campaigns(ids: Any) -> dict[str, QuerySet]:
    """What is still pending on the campaigns `ids` (ids, or a query of them), by kind:
    payments to verify, what finishing them withdraws (links, promises in course,
    agreements), and promises past their day waiting for the nightly's verdict. They name
    a campaign by id, without a foreign key: an undone upload would leave them naming
    nothing (`imports.CampaignImporter.undo_blockers`)."""
    today = timezone.localdate()
    links, promises, agreements = _open_on(RECEIVABLE_KIND, today=today, receivable_id__in=ids)
    return {
        "reported": ReportedPayment.objects.filter(
            receivable_kind=RECEIVABLE_KIND,
            receivable_id__in=ids,
            status=ReportedPayment.Status.PENDING,
        ),
        "links": links,
        "promises": promises,
        "promises_due": _awaiting_verdict(RECEIVABLE_KIND, today=today, receivable_id__in=ids),
        "agreements": agreements,
    }


def _open_links(ids: Sequence[int], kind: str = RECEIVABLE_KIND) -> list[PaymentLink]:
    links, _promises, _agreements = _open_on(kind, receivable_id__in=ids)
    return list(links.order_by("created_at", "pk"))


def _open_offers(
    ids: Sequence[int], kind: str = RECEIVABLE_KIND, *, today: date | None = None
) -> OpenOffers:
    """What is open on the receivables `ids` of `kind` (campaigns, or the loans they cover)."""
    links, promises, agreements = _open_on(kind, today=today, receivable_id__in=ids)
    return OpenOffers(
        links=list(links.order_by("created_at", "pk")),
        promises=list(promises.order_by("promised_on", "pk")),
        agreements=list(agreements.order_by("created_at", "pk")),
    )


def _lock_open_links(ids: Sequence[int], kind: str = RECEIVABLE_KIND) -> None:
    """Lock the receivables' open links before the receivables: a gateway's payment locks
    its link, then the campaign or the loan (collections_app.services.apply_gateway_payment);
    the other order could deadlock with it."""
    links, _promises, _agreements = _open_on(kind, receivable_id__in=ids)
    list(links.select_for_update().order_by("pk").values_list("pk", flat=True))


def _withdraw_open_offers(
    reasons: dict[int, str],
    *,
    actor: AbstractBaseUser | None,
    kind: str = RECEIVABLE_KIND,
    today: date | None = None,
) -> OpenOffers:
    """Withdraw what is open on the receivables of `reasons` (id: why) of `kind`: finished
    campaigns, or the written-off loans a campaign now covers. Through collections_app's
    services, which put each on the customer's timeline: the debtor can no longer pay the
    offer through them.

    A gateway's checkout stays open until it expires (Checkout Pro preferences cannot be
    closed): money still paid through a finished campaign's link is recorded without paying
    the campaign (`apply_payment`); through a covered loan's link, recorded as the loan's
    credit balance without paying it (collections_app.receivables, `money_kept` below).
    A promise whose day has passed is not in course: it is judged first, as the nightly
    would (`_judge_past_promises`), not withdrawn.
    Return what was open, all of it now withdrawn.
    """
    today = today or timezone.localdate()
    ids = list(reasons)
    _judge_past_promises(ids, kind, today=today)
    offers = _open_offers(ids, kind, today=today)
    for agreement in offers.agreements:
        collection_services.cancel_agreement(
            agreement=agreement, actor=actor, reason=reasons[agreement.receivable_id]
        )
    # An agreement withdrawn took its down payment's link with it: read the links again.
    links = _open_links(ids, kind) if offers.agreements else offers.links
    for link in links:
        collection_services.cancel_payment_link(
            link=link, actor=actor, reason=reasons[link.receivable_id]
        )
    for promise in offers.promises:
        collection_services.cancel_promise(
            promise=promise, actor=actor, reason=reasons[promise.receivable_id]
        )
    return offers


def _judge_past_promises(ids: Sequence[int], kind: str, *, today: date) -> None:
    """Judge the promises on the receivables `ids` of `kind` whose day has passed and that
    the nightly (collections_app.services.resolve_promises, 00:30; later after an outage)
    has not judged yet: kept when the money came by their day, else broken, each on the
    timeline, as collections_app.services.promise_payment judges one before a new promise.
    The offer ends after their day: they get the verdict they earned, not a withdrawal (the
    00:05 finish of a campaign that ended yesterday comes before the 00:30 run), and the
    nightly then finds nothing more to do."""
    due = _awaiting_verdict(kind, today=today, receivable_id__in=ids)
    for pk in list(due.order_by("pk").values_list("pk", flat=True)):
        # The nightly's own verdict, one promise in its own savepoint.
        collection_services.resolve_promise(promise_id=pk)


# A new campaign (`NewCampaign`) or one already made (`Campaign`): what covers its loans.
Covering = TypeVar("Covering", NewCampaign, Campaign)


def cover_loans(campaigns: Mapping[int, Covering]) -> dict[int, tuple[str, Covering]]:
    """Link new campaigns (id → the campaign or its row) to the written-off loans they cover
    (`Campaign.loans`): the one a payment code names, or, with a blank code, the customer's
    written-off loans now, in the campaign's currency. Return those of the loans that still
    have something open (a link, a promise, an agreement: what their creation withdraws),
    each with its payment code and the campaign covering it.

    What a blank code covers is fixed here: a loan written off later is a debt of its own.
    One query and one bulk insert, however many campaigns (an import's chunk).
    """
    by_customer: dict[int, list[tuple[int, Covering]]] = {}
    for pk, campaign in campaigns.items():
        by_customer.setdefault(campaign.customer_id, []).append((pk, campaign))
    if not by_customer:
        return {}
    links, promises, agreements = _open_on(LOAN, receivable_id=OuterRef("pk"))
    loans = (
        Loan.objects.filter(
            customer_id__in=bulk.ids_in(sorted(by_customer)), status=Loan.Status.WRITTEN_OFF
        )
        .annotate(link=Exists(links), promise=Exists(promises), agreement=Exists(agreements))
        .order_by("pk")
        .values_list(
            "pk", "customer_id", "payment_code", "currency", "link", "promise", "agreement"
        )
    )
    pairs: list[tuple[int, int]] = []
    open_on: dict[int, tuple[str, Covering]] = {}
    for loan_pk, customer_id, payment_code, currency, *offers in loans:
        for pk, campaign in by_customer[customer_id]:
            if campaign.payment_code == payment_code or (
                not campaign.payment_code and campaign.currency == currency
            ):
                pairs.append((pk, loan_pk))
                if any(offers):
                    open_on.setdefault(loan_pk, (payment_code, campaign))
    bulk.insert_rows(Campaign.loans.through, ["campaign_id", "loan_id"], pairs)
    return open_on


def _covered_loans_with_offers(
    campaigns: Mapping[int, Covering],
) -> dict[int, tuple[str, Covering]]:
    """Return the written-off loans the `campaigns` (id → campaign) cover that still have
    something open (`Campaign.loans`, as `selectors.covered_loans` reads them), each with
    its payment code and the campaign covering it.

    One query for a whole chunk of campaigns (an import's): only those few loans are then
    withdrawn, one by one.
    """
    if not campaigns:
        return {}
    links, promises, agreements = _open_on(LOAN, receivable_id=OuterRef("loan_id"))
    rows = (
        Campaign.loans.through.objects.filter(
            campaign_id__in=bulk.ids_in(sorted(campaigns)), loan__status=Loan.Status.WRITTEN_OFF
        )
        .filter(Exists(links) | Exists(promises) | Exists(agreements))
        .order_by("loan_id", "campaign_id")
        .values_list("loan_id", "loan__payment_code", "campaign_id")
    )
    covered: dict[int, tuple[str, Covering]] = {}
    for loan_pk, payment_code, campaign_pk in rows:
        covered.setdefault(loan_pk, (payment_code, campaigns[campaign_pk]))
    return covered


def _withdraw_covered_loans_offers(
    covered: Mapping[int, tuple[str, Covering]], *, actor: AbstractBaseUser | None
) -> OpenOffers:
    """Withdraw what is open on the written-off loans `covered` (loan id → its payment code
    and the active campaign covering it: `cover_loans`, `_covered_loans_with_offers`), each
    on the timeline; return what was withdrawn. The debtor is asked for the campaign from
    now on, so an old link must not take the whole loan, nor a promise for it be marked
    broken.
    """
    if not covered:
        return OpenOffers(links=[], promises=[], agreements=[])
    said = _("el crédito %(loan)s lo cubre la campaña de cartera castigada %(code)s")
    reasons = {
        pk: said % {"loan": payment_code, "code": campaign.code}
        for pk, (payment_code, campaign) in covered.items()
    }
    _lock_open_links(list(reasons), LOAN)
    return _withdraw_open_offers(reasons, actor=actor, kind=LOAN)


def covered_loans_offers(campaigns: Sequence[Campaign]) -> list[tuple[Campaign, OpenOffers]]:
    """Return, for those of the covering `campaigns` whose covered written-off loans still have
    something open, what is open there: what their creation would withdraw today, left
    open by campaigns made before it did (the `withdraw_covered_offers` command). Four
    queries, however many campaigns.
    """
    covered = _covered_loans_with_offers({campaign.pk: campaign for campaign in campaigns})
    if not covered:
        return []
    offers = _open_offers(list(covered), LOAN)
    by_pk: dict[int, Campaign] = {}
    found: dict[int, OpenOffers] = {}
    for _code, campaign in covered.values():
        by_pk[campaign.pk] = campaign
        found.setdefault(campaign.pk, OpenOffers(links=[], promises=[], agreements=[]))
    for link in offers.links:
        found[covered[link.receivable_id][1].pk].links.append(link)
    for promise in offers.promises:
        found[covered[promise.receivable_id][1].pk].promises.append(promise)
    for agreement in offers.agreements:
        found[covered[agreement.receivable_id][1].pk].agreements.append(agreement)
    return [(by_pk[pk], open_) for pk, open_ in found.items() if open_]


@transaction.atomic
def withdraw_covered_loans_offers(
    *, campaign: Campaign, actor: AbstractBaseUser | None
) -> OpenOffers:
    """Withdraw what is still open on the written-off loans `campaign` covers (active, or
    paid: `selectors.covering`), as its creation now does, each on the timeline; return
    what was withdrawn: nothing once it is finished or past its end date (it covers
    nothing then: the loan is owed again).

    For campaigns made before their creation withdrew it (the `withdraw_covered_offers`
    command); running it twice withdraws nothing the second time.
    """
    covered = _covered_loans_with_offers({campaign.pk: campaign})
    if not covered:
        return OpenOffers(links=[], promises=[], agreements=[])
    # create_campaign's order: the loans' open links, then the customer (a payment's
    # annulment that may reopen a campaign, or a new campaign, waits or is waited for).
    _lock_open_links(list(covered), LOAN)
    crm_services.lock_customer(campaign.customer_id)
    covering = Campaign.objects.filter(selectors.covering(timezone.localdate()), pk=campaign.pk)
    if not covering.exists():
        return OpenOffers(links=[], promises=[], agreements=[])
    return _withdraw_covered_loans_offers(
        _covered_loans_with_offers({campaign.pk: campaign}), actor=actor
    )


# --- Payments ---------------------------------------------------------------------------------


def _locked_campaign(campaign_id: int) -> Campaign:
    """Return the campaign locked for a change of its money or its status; refused in words
    once it is gone: its upload was undone (crm.imports) after the payment to verify, the
    link or the screen that names it was made.

    Its customer's row is taken first, in the order a payment link for it takes them
    (collections_app.services.create_payment_link: the customer, then the campaign), as a
    loan's payment does (credits.services.ledger.locked): the payment's timeline entry moves
    the customer's *última interacción*, so the other order deadlocked with a link being
    made."""
    customer_id = Campaign.objects.filter(pk=campaign_id).values_list("customer_id", flat=True)
    customer_id = customer_id.first()
    if customer_id is not None:
        crm_services.lock_customer(customer_id)
    campaign = (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise ValidationError(_("La campaña ya no existe: se deshizo su importación."))
    if campaign.customer_id != customer_id:
        crm_services.lock_customer(campaign.customer_id)  # merged into another record meanwhile
    return campaign


@transaction.atomic
def apply_payment(
    *,
    campaign_id: int,
    amount: Decimal,
    received_on: date,
    source: str,
    actor: AbstractBaseUser | None,
    reference: str = "",
    external_id: str | None = None,
    accept_overpayment: bool = False,
    receipt: UploadedFile | None = None,
) -> CampaignPayment:
    """Apply money received to a campaign; paying its balance marks it paid (status 1).

    The loan it comes from is not touched. More than the balance is refused unless
    `accept_overpayment` (a gateway's payment, already taken): then the excess is kept as
    `overpaid`, and money for a campaign paid meanwhile (a second link) or finished since
    its link was made is recorded too, never refused, all of it overpaid. A finished
    campaign stays finished (its offer was withdrawn), and the collections team is told
    by e-mail to refund the money or apply it by hand. A finished campaign otherwise takes
    only money received within its offer (`_within_ended_offer`: a transfer of its last
    day keyed in the next morning). The same `external_id` twice applies once (the first
    payment is returned).
    """
    if external_id:
        found = CampaignPayment.objects.filter(external_id=external_id).first()
        if found is not None:
            return found
    campaign = _locked_campaign(campaign_id)
    if amount <= 0:
        raise ValidationError({"amount": _("El monto debe ser mayor que cero.")})
    was_finished = campaign.status == Campaign.Status.FINISHED
    within_offer = _within_ended_offer(campaign, received_on)
    after_finish = was_finished and not within_offer
    if after_finish and not accept_overpayment:
        raise ValidationError(_("La campaña %(code)s está finalizada.") % {"code": campaign.code})
    # Money after the finish pays nothing: the offer it came for was withdrawn.
    balance = ZERO if after_finish else max(campaign.balance, ZERO)
    if balance <= 0 and not accept_overpayment:
        raise ValidationError(_("La campaña %(code)s ya está pagada.") % {"code": campaign.code})
    overpaid = max(amount - balance, ZERO)
    if overpaid and not accept_overpayment:
        raise ValidationError(
            {
                "amount": _("El monto (%(amount)s) supera el saldo de la campaña (%(balance)s).")
                % {
                    "amount": _money(campaign.currency, amount),
                    "balance": _money(campaign.currency, balance),
                }
            }
        )
    payment = CampaignPayment(
        campaign=campaign,
        amount=amount,
        received_on=received_on,
        source=source[:20],
        reference=(reference or "")[:80],
        external_id=external_id or None,
        overpaid=overpaid,
        recorded_by=people.signed_in(actor),
    )
    if receipt is not None:
        payment.receipt.save(receipt.name or "comprobante", receipt, save=False)
    payment.save()
    applied = amount - overpaid
    campaign.paid_amount = F("paid_amount") + applied
    fields = ["paid_amount", "updated_at"]
    is_paid = applied > 0 and applied == balance
    if is_paid:
        campaign.status = Campaign.Status.PAID
        campaign.paid_at = timezone.now()
        fields += ["status", "paid_at"]
    campaign.save(update_fields=fields)
    summary = _("Pago de %(amount)s a la campaña de cartera castigada %(code)s") % {
        "amount": _money(campaign.currency, amount),
        "code": campaign.code,
    }
    if after_finish:
        pass  # said below, after the day
    elif overpaid == amount:
        summary += _(" (ya no tenía saldo: todo queda como saldo a favor)")
    elif overpaid:
        summary += _(" (%(over)s más que el saldo)") % {"over": _money(campaign.currency, overpaid)}
    if received_on != timezone.localdate() and not within_offer:
        # Recorded after its day: the entry is dated when it was recorded. (Within an ended
        # offer the sentence names the day below.)
        summary += _(", recibido el %(day)s") % {"day": f"{received_on:%d/%m/%Y}"}
    if within_offer:
        summary += _("; recibido el %(day)s, dentro de la oferta, que terminó el %(end)s") % {
            "day": f"{received_on:%d/%m/%Y}",
            "end": f"{campaign.ends_on:%d/%m/%Y}",
        }
    elif after_finish:
        summary += _(
            "; la campaña está finalizada: el pago no se aplicó a ella y queda como saldo a "
            "favor, para devolverlo o aplicarlo a mano"
        )
    if is_paid and was_finished:
        # Its tag went when it was finished; another active campaign keeps the customer's.
        summary += _("; campaña pagada")
    elif is_paid:
        summary += _("; campaña pagada, etiqueta «%(tag)s» quitada") % {"tag": CASTIGADA_TAG}
    if is_paid:
        _untag([campaign.customer_id])
    if within_offer:
        # Offered again since it ended: that campaign is left as it is, for an agent to see.
        other = (
            Campaign.objects.filter(customer_id=campaign.customer_id, status=Campaign.Status.ACTIVE)
            .exclude(pk=campaign.pk)
            .values_list("code", flat=True)
            .first()
        )
        if other is not None:
            summary += _("; el cliente tiene otra campaña activa (%(code)s), que sigue vigente") % {
                "code": other
            }
    crm_services.record_interaction(
        customer=campaign.customer,
        kind=Interaction.Kind.PAYMENT,
        summary=summary,
        actor=actor,
        payload={
            "recovery_campaign": campaign.pk,
            "recovery_payment": payment.pk,
            "received_on": received_on.isoformat(),
        },
    )
    if after_finish:
        _tell_team_of_payment_after_finish(campaign, payment)
    return payment


def _tell_team_of_payment_after_finish(campaign: Campaign, payment: CampaignPayment) -> None:
    """E-mail the collections team (as for a payment to verify) that money came for a
    finished campaign and waits to be refunded or applied by hand."""
    facts = {
        **payment_facts(campaign.customer, payment, campaign.currency),
        "code": campaign.code,
        "url": settings.SITE_URL + reverse("recovery:campaign_detail", args=[campaign.pk]),
    }
    email_collections_team(
        subject=_("Pago a una campaña finalizada: %(name)s, %(amount)s") % facts,
        body=_(
            "%(name)s (%(doc)s) pagó %(amount)s el %(day)s por %(source)s, operación "
            "«%(ref)s», a la campaña de cartera castigada %(code)s, que está finalizada. "
            "El pago quedó registrado sin aplicarse a la campaña: devuélvalo o aplíquelo "
            "a mano.\n\nVea la campaña en %(url)s"
        )
        % facts,
        dedupe=f"campaign-payment-after-finish-{payment.pk}",
    )


def payment_facts(
    customer: Customer, payment: CampaignPayment | Payment, currency: str
) -> dict[str, str]:
    """What the team's e-mails say of a payment kept unapplied (a campaign's or a loan's)."""
    return {
        "name": customer.full_name,
        "doc": customer.document_number,
        "amount": display.money_text(payment.amount, currency),
        "day": f"{payment.received_on:%d/%m/%Y}",
        "source": dict(Payment.Source.choices).get(payment.source, payment.source),
        "ref": payment.reference or "-",
    }


# collections_app's, which its gateway payments use too (recovery builds on it).
email_collections_team = collection_services.email_collections_team


def _within_ended_offer(campaign: Campaign, received_on: date) -> bool:
    """Say whether money received on `received_on` honoured the offer of a campaign that is
    finished because its end date went by (the 00:05 task), though it is recorded later.

    A campaign does not record who finished it. One finished after its end date ran its
    whole offer either way; one finished by hand before it withdrew the offer, and money
    for it is refused as before.
    """
    return (
        campaign.status == Campaign.Status.FINISHED
        and campaign.ends_on is not None
        and received_on <= campaign.ends_on
        and campaign.finished_at is not None
        and timezone.localdate(campaign.finished_at) > campaign.ends_on
    )


@transaction.atomic
def annul_payment(
    *, payment_id: int, actor: AbstractBaseUser | None, reason: str
) -> CampaignPayment:
    """Annul a campaign payment exactly: the balance goes back, and a campaign it had paid
    is active again (finished if its end date went by, or if the customer has another
    active campaign by now)."""
    payment = CampaignPayment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise ValidationError(_("El pago no existe."))
    if payment.status == CampaignPayment.Status.ANNULLED:
        raise ValidationError(
            _("Este pago ya fue anulado %(when_by)s; no se anuló otra vez.")
            % {"when_by": repeats.done_when_by(payment.annulled_at, payment.annulled_by)}
        )
    campaign = _locked_campaign(payment.campaign_id)
    payment.status = CampaignPayment.Status.ANNULLED
    payment.annulled_at = timezone.now()
    payment.annulled_by = people.signed_in(actor)
    payment.annul_reason = reason[:255]
    payment.save(update_fields=["status", "annulled_at", "annulled_by", "annul_reason"])
    applied = payment.amount - payment.overpaid
    campaign.paid_amount = campaign.paid_amount - applied
    fields = ["paid_amount", "updated_at"]
    summary = _("Pago de %(amount)s a la campaña %(code)s anulado: %(reason)s") % {
        "amount": _money(campaign.currency, payment.amount),
        "code": campaign.code,
        "reason": reason,
    }
    # A payment that came after the campaign was paid (all of it overpaid) leaves it paid.
    if campaign.status == Campaign.Status.PAID and applied > 0:
        today = timezone.localdate()
        crm_services.lock_customer(campaign.customer_id)  # as create_campaign does
        other = (
            Campaign.objects.filter(customer_id=campaign.customer_id, status=Campaign.Status.ACTIVE)
            .exclude(pk=campaign.pk)
            .exists()
        )
        campaign.paid_at = None
        fields += ["status", "paid_at"]
        if campaign.has_ended(today) or other:
            campaign.status = Campaign.Status.FINISHED
            campaign.finished_at = timezone.now()
            fields.append("finished_at")
            summary += _("; la campaña queda finalizada")
        else:
            campaign.status = Campaign.Status.ACTIVE
            summary += _("; la campaña vuelve a estar activa")
    campaign.save(update_fields=fields)
    if campaign.status == Campaign.Status.ACTIVE:
        _tag(campaign.customer_id)
    crm_services.record_interaction(
        customer=campaign.customer,
        kind=Interaction.Kind.PAYMENT,
        summary=summary,
        actor=actor,
        payload={"recovery_campaign": campaign.pk, "recovery_payment": payment.pk},
    )
    return payment


def recompute_paid(campaign: Campaign) -> Decimal:
    """Return what the campaign's standing payments add up to, from the payments (the check
    that `paid_amount` can always be recomputed from its events)."""
    total = ZERO
    for amount, overpaid in CampaignPayment.objects.filter(
        campaign=campaign, status=CampaignPayment.Status.APPLIED
    ).values_list("amount", "overpaid"):
        total += amount - overpaid
    return total


def untag_customers(customer_ids: Iterable[int]) -> None:
    """Remove the `Cartera castigada` tag from those of the customers left without an active
    campaign (an import undone)."""
    _untag(customer_ids)


# --- Many campaigns at once (an import) --------------------------------------------------------


def copy_campaigns(
    rows: Sequence[NewCampaign],
    *,
    actor: AbstractBaseUser | None,
    batch: ImportBatch | None,
    batch_size: int = 5000,
    source: str = "",
) -> list[int]:
    """Write checked campaigns, tag their customers and note each on the timeline, by COPY
    on PostgreSQL; return the campaigns' ids, in the rows' order.

    One campaign (`create_campaign`) or an import's hundred thousand: model objects built
    and bound one by one wrote those in 26 s, this in 9 (bench_campaign_import). Inside
    the caller's transaction; a second active campaign for a customer raises
    IntegrityError (the constraint), so a concurrent upload loses whole. The entries leave
    the customers' *última interacción* as it is (`crm.services.system_entry_row`).
    """
    now = timezone.now()
    by = people.signed_in(actor)
    by_id = by.pk if by is not None else None
    tag, _created = Tag.objects.get_or_create(name=CASTIGADA_TAG)
    through = Customer.tags.through
    write = amounts.writer()
    # The timeline entry's texts, translated once.
    head = _(
        "Campaña de cartera castigada %(code)s: deuda %(debt)s, descuento %(discount)s, "
        "paga %(amount)s"
    )
    until = _(" hasta el %(day)s")
    tail = _("; etiqueta «%(tag)s»") % {"tag": CASTIGADA_TAG}
    if source:
        tail += f" ({source})"
    ids: list[int] = []
    total = len(rows)
    for start in range(0, total, batch_size):
        chunk = rows[start : start + batch_size]
        customer_ids = [row.customer_id for row in chunk]
        # Django's wrapper turns the driver's errors into its own (IntegrityError) for the
        # caller; COPY goes past it.
        with connection.wrap_database_errors:
            made = bulk.create_rows(
                Campaign,
                [
                    {
                        "customer_id": row.customer_id,
                        "code": row.code,
                        "debt_amount": row.debt_amount,
                        "discount_type": row.discount_type,
                        "discount_value": row.discount_value,
                        "discount_amount": row.figures.discount_amount,
                        "amount": row.figures.amount,
                        "paid_amount": ZERO,
                        "currency": row.currency,
                        "ends_on": row.ends_on,
                        "payment_code": row.payment_code,
                        "status": Campaign.Status.ACTIVE.value,
                        "paid_at": None,
                        "finished_at": None,
                        "first_visit_at": None,
                        "countdown_ends_at": None,
                        "import_batch_id": batch.pk if batch is not None else None,
                        "created_by_id": by_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for row in chunk
                ],
            )
            # The loans each covers, fixed now (a loan written off later is not one).
            covered = cover_loans(dict(zip(made, chunk, strict=True)))
            # Those already tagged stay as they are. Not a query on the tags first: the table
            # grows in this transaction, with statistics that still say it is empty.
            bulk.add_links(through, "customer", customer_ids, "tag", tag.pk)
            entries = []
            for row, pk in zip(chunk, made, strict=True):
                summary = head % {
                    "code": row.code,
                    "debt": f"{row.currency} {write(row.debt_amount)}",
                    "discount": f"{row.currency} {write(row.figures.discount_amount)}",
                    "amount": f"{row.currency} {write(row.figures.amount)}",
                }
                if row.ends_on:
                    summary += until % {"day": f"{row.ends_on:%d/%m/%Y}"}
                entries.append(
                    crm_services.system_entry_row(
                        row.customer_id,
                        summary=summary + tail,
                        payload={"recovery_campaign": pk},
                        actor_id=by_id,
                        at=now,
                    )
                )
            bulk.insert_rows(Interaction, crm_services.INTERACTION_COLUMNS, entries)
        # Covered from now on: what was still open on their loans is withdrawn.
        _withdraw_covered_loans_offers(covered, actor=by)
        ids.extend(made)
    return ids
