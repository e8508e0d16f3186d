"""Investors, their participations in loans, each payment shared among them, and their
liquidations. Investors are not customers: nothing about them goes on a timeline."""

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import (
    ZERO,
    Distribution,
    Investor,
    Liquidation,
    Loan,
    Participation,
)
from credits.services import ledger
from crm import display, validators
from crm import services as crm_services
from crm.models import Interaction
from lib import bulk, money, people, repeats, search


@transaction.atomic
def add_participation(
    *,
    loan: Loan,
    investor: Investor,
    actor: AbstractBaseUser | None,
    amount: Decimal | None = None,
    share: Decimal | None = None,
) -> Participation:
    """Give an investor a part of a loan, by amount or by share; shares never pass 100 %,
    nor capitals the loan's principal (`_amount_and_share`).

    An investor funds only loans in its own currency: its liquidations, its bank account
    and every total of its screens are in that currency, and soles and dollars never add up.
    """
    loan = ledger.locked(loan)
    if loan.status in (Loan.Status.PAID, Loan.Status.CANCELLED, Loan.Status.WRITTEN_OFF):
        raise ValidationError(
            _("No se agregan inversionistas a un crédito «%(s)s».")
            % {"s": loan.get_status_display()}
        )
    # Locked and read again: a change of its currency waits, or is seen here.
    investor = Investor.objects.select_for_update().get(pk=investor.pk)
    if investor.currency != loan.currency:
        raise ValidationError(
            {
                "investor": _(
                    "%(name)s invierte en %(own)s y este crédito es en %(other)s: un "
                    "inversionista financia solo créditos en su moneda."
                )
                % {
                    "name": investor.name,
                    "own": currency_name(investor.currency),
                    "other": currency_name(loan.currency),
                }
            }
        )
    if (amount is None) == (share is None):
        raise ValidationError(_("Indique el monto o el porcentaje, uno de los dos."))
    if amount is not None:
        amount = money.cents(Decimal(amount))
        if not ZERO < amount <= loan.principal:
            raise ValidationError(
                {"amount": _("El monto debe ser positivo y no mayor al capital.")}
            )
    else:
        share = Decimal(share).quantize(Decimal("0.000001"))
        if not ZERO < share <= money.HUNDRED:
            raise ValidationError({"share": _("El porcentaje debe estar entre 0 y 100.")})
    # First: the same share sent twice said "superarían el 100 %" when it was above 50 %.
    if loan.participations.filter(investor=investor).exists():
        raise ValidationError(_("Ese inversionista ya participa en este crédito."))
    taken = loan.participations.aggregate(share=Sum("share"), amount=Sum("amount"))
    amount, share = _amount_and_share(
        loan,
        amount=amount,
        share=share,
        taken_share=taken["share"] or ZERO,
        taken_amount=money.cents(taken["amount"]),
    )
    participation = Participation.objects.create(
        investor=investor, loan=loan, amount=amount, share=share
    )
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Crédito %(code)s: %(inv)s financia %(cur)s %(amount)s (%(share)s %%)")
        % {
            "code": loan.payment_code,
            "inv": investor.name,
            "cur": loan.currency,
            "amount": amount,
            "share": format(share.normalize(), "f"),
        },
        payload={"loan": loan.pk, "investor": investor.pk},
        actor=actor,
    )
    return participation


def _amount_and_share(
    loan: Loan,
    *,
    amount: Decimal | None,
    share: Decimal | None,
    taken_share: Decimal,
    taken_amount: Decimal,
) -> tuple[Decimal, Decimal]:
    """Return a new participation's capital and share from the one given, so that neither
    the capitals pass the loan's principal nor the shares 100 %.

    A capital is what the investor gets back when the loan is paid off (the principal is
    shared by capitals, `credits.services.distributions`): the capitals of a loan never add
    up to more than its principal. By share, the capital is the share of the principal
    rounded half up, but never more than the capital left (50 % and 50 % of 1,000.01 are
    500.01 and 500.00). By amount, the share is the amount's percent of the principal to six
    places, but never more than the percent left: 2,333.33, 2,333.33 and 2,333.34 of 7,000.00
    fund it whole, though their shares rounded one by one would add up to 100.000001 %.
    """
    capital_left = loan.principal - taken_amount
    share_left = money.HUNDRED - taken_share
    if amount is not None:
        if amount > capital_left:
            raise ValidationError(
                _(
                    "Las participaciones superarían el capital del crédito: queda %(left)s "
                    "por financiar."
                )
                % {"left": display.money_text(max(capital_left, ZERO), loan.currency)}
            )
        share = min(
            (amount * money.HUNDRED / loan.principal).quantize(Decimal("0.000001")), share_left
        )
    elif capital_left <= ZERO:
        raise ValidationError(_("Las participaciones ya financian todo el capital del crédito."))
    else:
        amount = min(money.cents(loan.principal * share / money.HUNDRED), capital_left)
    if share > share_left or share <= ZERO:
        raise ValidationError(
            _("Las participaciones superarían el 100 %%: queda %(left)s %% por financiar.")
            % {"left": format(max(share_left, ZERO).normalize(), "f")}
        )
    return amount, share


MAX_PERIOD_DAYS = 366


@transaction.atomic
def create_liquidation(
    *, investor: Investor, period_start: date, period_end: date, actor: AbstractBaseUser | None
) -> Liquidation:
    """Settle an investor's period: every distribution dated in it or before it and not yet
    liquidated, of loans in the investor's currency; refused when its net is not positive.

    A reversal is dated the day of the annulment, so annulling a payment already
    liquidated leaves a line dated inside that liquidation's period: the next liquidation
    takes it, as every earlier line still unliquidated (its statement shows them apart,
    «de periodos anteriores»). A liquidation whose net would be negative (the investor owes
    that) or zero (nothing to pay) is not created: its lines stay unliquidated and the next
    liquidation nets them against what the investor earns. A liquidation is in the
    investor's currency: the lines of a loan in another currency (participations made
    before `add_participation` refused them) are never added to it and stay unliquidated.
    """
    if period_start > period_end:
        raise ValidationError({"period_end": _("El fin del periodo es anterior al inicio.")})
    # This month may be liquidated before it ends (its later lines go into another
    # liquidation of the same days); a later end is a typo, 2062 for 2026.
    if period_end > _month_end(timezone.localdate()):
        raise ValidationError(
            {"period_end": _("El periodo no puede terminar después de este mes.")}
        )
    # A lender liquidates monthly; a period of years is a typo (0001 for 2026) that
    # would be printed on the investor's statement.
    if (period_end - period_start).days > MAX_PERIOD_DAYS:
        raise ValidationError(
            {"period_start": _("Un periodo de liquidación abarca como máximo un año.")}
        )
    # The lines are taken once, locked: the totals and the link below are the same rows.
    # Read again, the UPDATE would also link a line a payment committed in between, which
    # the totals left out. Two liquidations made at once (March's and April's both reach
    # March's lines) lock them in the same order, and the second, once the first commits,
    # finds them taken. Only the lines are locked (`of`), not their loans: a payment on
    # one of them waited for the liquidation to commit.
    ids = list(
        Distribution.objects.select_for_update(of=("self",))
        .filter(
            investor=investor,
            participation__loan__currency=investor.currency,
            liquidation__isnull=True,
            value_date__lte=period_end,
        )
        .order_by("value_date", "id")
        .values_list("pk", flat=True)
    )
    if not ids:
        _refuse_a_repeat(investor, period_start, period_end, actor)
        raise ValidationError(_("No hay repartos por liquidar en ese periodo."))
    lines = Distribution.objects.filter(pk__in=bulk.ids_in(ids))
    totals = lines.aggregate(
        principal=Sum("principal"),
        interest=Sum("interest"),
        platform_fee=Sum("platform_fee"),
        net=Sum("net"),
    )
    _refuse_a_net_not_positive(investor, period_end, money.cents(totals["net"]))
    liquidation = Liquidation.objects.create(
        investor=investor,
        period_start=period_start,
        period_end=period_end,
        principal=totals["principal"],
        interest=totals["interest"],
        platform_fee=totals["platform_fee"],
        net_amount=totals["net"],
        created_by=people.signed_in(actor),
    )
    lines.update(liquidation=liquidation)
    return liquidation


def _refuse_a_net_not_positive(investor: Investor, period_end: date, net: Decimal) -> None:
    """Refuse a liquidation that pays nothing: a negative net is what the investor owes (the
    reversals of payments already liquidated and paid), a zero net has nothing to pay.
    Its lines stay for the next liquidation, which discounts them from what it pays."""
    if net > ZERO:
        return
    values = {
        "name": investor.name,
        "end": period_end.strftime("%d/%m/%Y"),
        "owed": display.money_text(-net, investor.currency),
        "net": display.money_text(net, investor.currency),
    }
    if net < ZERO:
        raise ValidationError(
            _(
                "No se creó la liquidación: hasta el %(end)s, %(name)s debe %(owed)s "
                "(reversiones de pagos anulados que ya se le liquidaron). Ese monto se "
                "descuenta de su próxima liquidación."
            )
            % values
        )
    raise ValidationError(
        _(
            "No se creó la liquidación: hasta el %(end)s, el neto de %(name)s es %(net)s y "
            "no hay nada que abonar. Sus repartos pendientes pasan a su próxima liquidación."
        )
        % values
    )


def payout_refusal(liquidation: Liquidation) -> str:
    """Return why a liquidation cannot be paid out, or "" when it can."""
    if liquidation.status == Liquidation.Status.PAID:
        return _("Esta liquidación ya figura como pagada.")
    if liquidation.net_amount <= ZERO:
        return _(
            "Esta liquidación no se paga: su neto es %(net)s. Un abono se registra solo por "
            "un neto positivo."
        ) % {"net": display.money_text(liquidation.net_amount, liquidation.investor.currency)}
    return ""


def _refuse_a_repeat(
    investor: Investor, period_start: date, period_end: date, actor: AbstractBaseUser | None
) -> None:
    """Name the liquidation the same person made of this period a moment ago: the form sent
    twice (a double click, the back button and send) finds its lines taken by the first."""
    actor = people.signed_in(actor)
    if actor is None:
        return
    twin = repeats.made_within(
        Liquidation.objects.filter(
            investor=investor, period_start=period_start, period_end=period_end, created_by=actor
        ),
        ledger.REPEAT_WINDOW,
    )
    if twin is None:
        return
    raise ValidationError(
        _(
            "Usted creó esta liquidación hace un momento (#%(id)s, %(name)s, del %(start)s al "
            "%(end)s, por %(net)s): ya tiene todos los repartos del periodo."
        )
        % {
            "id": twin.pk,
            "name": investor.name,
            "start": period_start.strftime("%d/%m/%Y"),
            "end": period_end.strftime("%d/%m/%Y"),
            "net": display.money_text(twin.net_amount, investor.currency),
        }
    )


def _month_end(day: date) -> date:
    """Return the last day of `day`'s month."""
    next_month = day.replace(day=28) + timedelta(days=4)
    return next_month - timedelta(days=next_month.day)


@transaction.atomic
def mark_liquidation_paid(
    *, liquidation: Liquidation, reference: str, actor: AbstractBaseUser | None
) -> Liquidation:
    """Record that a liquidation's net amount was paid to the investor: only once, and only
    a positive net (one created before negative nets were refused cannot be paid)."""
    liquidation = (
        Liquidation.objects.select_for_update(of=("self",))
        .select_related("investor")
        .get(pk=liquidation.pk)
    )
    refusal = payout_refusal(liquidation)
    if refusal:
        raise ValidationError(refusal)
    if not reference.strip():
        raise ValidationError({"reference": _("Indique el número de operación del abono.")})
    liquidation.status = Liquidation.Status.PAID
    liquidation.paid_at = timezone.now()
    liquidation.payout_reference = reference.strip()
    liquidation.save(update_fields=["status", "paid_at", "payout_reference"])
    return liquidation


# Investors are not customers: nothing about their own data goes on a timeline.
# Fields a person may set on an investor; anything else is the system's.
INVESTOR_FIELDS = (
    "kind",
    "name",
    "document_type",
    "document_number",
    "email",
    "phone",
    "bank_name",
    "bank_account",
    "bank_cci",
    "currency",
    "is_active",
)


def normalize_cci(cci: str) -> str:
    """Return an interbank account code (CCI) in ASCII digits, without spaces or dashes."""
    return re.sub(r"[\s\-]", "", search.ascii_digits(cci or ""))


def _duplicate_investor_message() -> str:
    return _("Ya existe un inversionista con ese tipo y número de documento.")


def currency_name(code: str) -> str:
    """Return a currency as a sentence names it: «soles (S/)», «dólares (US$)»."""
    label = str(money.Currency(code).label)
    return label[:1].lower() + label[1:]


def _currency_changed(investor: Investor) -> bool:
    if investor.pk is None:
        return False
    saved = Investor.objects.filter(pk=investor.pk).values_list("currency", flat=True).first()
    return saved != investor.currency


def validate_investor(investor: Investor) -> None:
    """Check the investor's data per document type, its CCI and its uniqueness."""
    investor.name = investor.name.strip()
    investor.document_number = validators.normalize_document_number(investor.document_number)
    investor.bank_cci = normalize_cci(investor.bank_cci)
    errors: dict[str, list[str]] = {}
    try:
        validators.validate_document(investor.document_type, investor.document_number)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if investor.kind == Investor.Kind.COMPANY and investor.document_type != "ruc":
        errors.setdefault("document_type", []).append(_("Una empresa se registra con su RUC."))
    if investor.bank_cci and not re.fullmatch(r"[0-9]{20}", investor.bank_cci):
        errors.setdefault("bank_cci", []).append(_("El CCI debe tener exactamente 20 dígitos."))
    if _currency_changed(investor):
        # It funds only loans in its currency (`add_participation`): a new currency would
        # leave its loans, and their liquidations, in another.
        funded = investor.participations.exclude(loan__currency=investor.currency)
        if funded.exists():
            errors.setdefault("currency", []).append(
                _(
                    "No se puede cambiar la moneda: financia créditos en %(cur)s, y un "
                    "inversionista financia solo créditos en su moneda."
                )
                % {"cur": currency_name(funded.values_list("loan__currency", flat=True)[0])}
            )
    duplicates = Investor.objects.filter(
        document_type=investor.document_type, document_number=investor.document_number
    ).exclude(pk=investor.pk)
    if "document_number" not in errors and duplicates.exists():
        errors["document_number"] = [_duplicate_investor_message()]
    try:
        investor.full_clean(exclude=list(errors), validate_constraints=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _saved_investor(investor: Investor) -> Investor:
    investor.search_text = investor.build_search_text()
    try:
        with transaction.atomic():
            investor.save()
    except IntegrityError as exc:  # the same document registered a moment ago by someone else
        raise ValidationError({"document_number": _duplicate_investor_message()}) from exc
    return investor


@transaction.atomic
def create_investor(*, actor: AbstractBaseUser | None, data: Mapping[str, Any]) -> Investor:
    """Register an investor, validated per document type, with a unique document."""
    investor = Investor(**{k: v for k, v in data.items() if k in INVESTOR_FIELDS})
    validate_investor(investor)
    return _saved_investor(investor)


@transaction.atomic
def update_investor(
    *, investor: Investor, actor: AbstractBaseUser | None, data: Mapping[str, Any]
) -> Investor:
    """Change an investor's data, validated as when it was registered; each change (old →
    new) goes into the investor's history (admin's *Historial*, who and when): where the
    liquidations are paid must never change without a trace."""
    investor = Investor.objects.select_for_update().get(pk=investor.pk)
    changes = []
    for field in INVESTOR_FIELDS:
        if field in data and data[field] != getattr(investor, field):
            label = Investor._meta.get_field(field).verbose_name
            old, new = _history_value(getattr(investor, field)), _history_value(data[field])
            changes.append(f"{label}: {old} → {new}")
            setattr(investor, field, data[field])
    validate_investor(investor)
    investor = _saved_investor(investor)
    actor = people.signed_in(actor)
    if changes and actor is not None:
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=[investor],
            action_flag=CHANGE,
            change_message="; ".join(changes)[:2000],
            single_object=True,
        )
    return investor


def _history_value(value: Any) -> str:
    if value in (None, ""):
        return _("(vacío)")
    if isinstance(value, bool):
        return _("sí") if value else _("no")
    return str(value)
