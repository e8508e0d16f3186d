"""The loan screens: list, detail, the new-loan form, payments, life cycle and portfolio."""

import mimetypes
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from io import BytesIO

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from credits import filters, forms, portfolio, schedule, selectors, tables
from credits.investors import services as investor_services
from credits.models import Loan, LoanContract, Payment
from credits.services import contracts as contract_services
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm import display
from crm import selectors as crm_selectors
from lib import amounts, files, lists, repeats, spreadsheets
from lib.confirmation import CONFIRM_FIELD, is_confirmed
from lib.money import Currency
from lib.registry import Registry

MONEY_FORMAT = "#,##0.00"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# (loan, today) -> a line for the loan's page, or "": what an app above credits knows of the
# loan (recovery: the written-off campaign that covers it), registered from its `ready`.
LoanNote = Callable[[Loan, date], str]

_loan_notes: Registry[LoanNote] = Registry("A loan page note")


def register_loan_note(name: str, note: LoanNote) -> None:
    """Show `note(loan, today)` under the header of every loan's page it has a line for."""
    _loan_notes.register(name, note)


def _loan_notes_for(loan: Loan, today: date) -> list[str]:
    notes = (_loan_notes.get(name) for name in _loan_notes.names())
    return [text for note in notes if note is not None and (text := note(loan, today))]


@require_GET
@permission_required("credits.view_loan", raise_exception=True)
def loan_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=filters.LoanFilter(request.GET, queryset=selectors.loan_list(request.user)),
        table_class=tables.LoanTable,
        page_template="credits/loan_list.html",
        export_name="creditos",
        results_template="credits/partials/loan_results.html",
        create_link=(reverse("credits:loan_create"), _("Registrar el primero"))
        if request.user.has_perm("credits.add_loan")
        else None,
    )


@permission_required("credits.add_loan", raise_exception=True)
def loan_create(request: HttpRequest) -> HttpResponse:
    """Open a draft loan; `?customer=<id>` fixes the customer it is for."""
    query = forms.CustomerQueryForm(request.GET)
    customer_id = query.cleaned_data["customer"] if query.is_valid() else None
    customer = crm_selectors.customer_for(request.user, customer_id) if customer_id else None
    form = forms.LoanForm(
        request.POST or None,
        customers=crm_selectors.customers_visible_to(request.user),
        customer=customer,
    )
    if request.method == "POST" and form.is_valid():
        try:
            loan = loan_services.create_loan(actor=request.user, **form.service_data())
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Crédito %(code)s registrado como borrador.") % {"code": loan.payment_code},
            )
            for why in form.unowned():
                messages.warning(request, why)
            return redirect(loan)
    terms = forms.LoanTermsForm(request.POST) if request.method == "POST" else None
    return render(
        request,
        "credits/loan_form.html",
        {"form": form, "customer": customer, **_preview_context(terms)},
    )


@require_GET
@permission_required("credits.add_loan", raise_exception=True)
def loan_preview(request: HttpRequest) -> HttpResponse:
    """Return the schedule the loan form's figures give, as they are typed."""
    form = forms.LoanTermsForm(request.GET)
    return render(request, "credits/partials/loan_preview.html", _preview_context(form))


def _preview_context(form: forms.LoanTermsForm | None) -> dict:
    if form is None or not form.has_figures():
        return {"preview_form": form, "plan": None, "missing": True}
    if not form.is_valid():
        return {"preview_form": form, "plan": None}
    try:
        plan = schedule.build_schedule(**form.schedule_terms())
    except (ValueError, ArithmeticError):
        form.add_error(None, _("Con estos datos no se puede calcular un cronograma."))
        return {"preview_form": form, "plan": None}
    return {"preview_form": form, "plan": plan, "rate": form.annual_rate_used()}


@require_GET
@permission_required("credits.view_loan", raise_exception=True)
def loan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    loan = selectors.loan_page(request.user, pk)
    today = timezone.localdate()
    # Read once for the schedule and the balance.
    installments = list(selectors.live_installments(loan))
    rows = selectors.schedule_rows(loan, today, installments=installments)
    contracts = list(selectors.loan_contracts(loan))
    open_contract = any(
        c.status in (LoanContract.Status.PENDING, LoanContract.Status.SENT) for c in contracts
    )
    # A loan not yet disbursed has no installments: show the ones it will have.
    projected = None if loan.disbursed_at else loan_services.schedule_for(loan)
    actions = forms.available_actions(request.user, loan, has_open_contract=open_contract)
    payments = selectors.loan_payments(
        loan, limit=None if request.GET.get("pagos") == "todos" else selectors.PAYMENTS_SHOWN
    )
    if payments.total:
        # A disbursement is annulled only before any payment (loans.annul_disbursement).
        actions.discard(forms.TransitionForm.ANNUL_DISBURSEMENT)
    return render(
        request,
        "credits/loan_detail.html",
        {
            "loan": loan,
            "balance": selectors.loan_balance(loan, today, installments=installments),
            # From the schedule itself: the nightly `Loan.days_past_due` may be a day behind.
            "days_late": max((r.installment.days_late(today) for r in rows), default=0),
            "notes": _loan_notes_for(loan, today),
            # The page's longest part, ~8 figures an installment: a Jinja2 template writes
            # it in a fraction of the Django template's time (config/jinja2.py says why).
            "schedule_table": mark_safe(  # noqa: S308 - written by an autoescaping template
                render_to_string(
                    "credits/schedule_table.jinja",
                    {"rows": rows, "projected": projected, "amount": amounts.writer()},
                    request,
                )
            ),
            "payments": payments,
            "participations": selectors.loan_participations(loan),
            "participation_form": forms.ParticipationForm(currency=loan.currency),
            "contracts": contracts,
            "contract_emails": contract_services.planned_signer_emails(loan)
            if loan.status in (Loan.Status.DRAFT, Loan.Status.AWAITING_SIGNATURE)
            else "",
            "actions": actions,
            # The co-signer changes until the contract goes out (loans.set_cosigner).
            "may_edit_cosigner": request.user.has_perm("credits.change_loan")
            and loan_services.cosigner_editable(loan, has_open_contract=open_contract),
            "disburse_form": forms.DisburseForm(loan=loan)
            if forms.TransitionForm.DISBURSE in actions
            else None,
        },
    )


# A receipt or signed contract of these types opens in the browser; anything else downloads.
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp"}


@require_GET
def payment_receipt(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """A payment's uploaded receipt, for whoever may see its loan (selectors.loan_for)."""
    loan = selectors.loan_for(request.user, pk)
    payment = get_object_or_404(loan.payments.exclude(receipt=""), pk=payment_pk)
    return _serve_inline(payment.receipt)


@require_GET
def contract_file(request: HttpRequest, pk: int, contract_pk: int) -> HttpResponse:
    """A loan's signed contract (kept from DocuSeal), for whoever may see the loan."""
    loan = selectors.loan_for(request.user, pk)
    contract = get_object_or_404(loan.contracts.exclude(signed_file=""), pk=contract_pk)
    return _serve_inline(contract.signed_file)


def _serve_inline(file) -> HttpResponse:
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return files.serve(
        file, as_attachment=content_type not in INLINE_TYPES, content_type=content_type
    )


@require_http_methods(["GET", "POST"])
@permission_required(["credits.view_loan", "credits.change_loan"], raise_exception=True)
def loan_cosigner(request: HttpRequest, pk: int) -> HttpResponse:
    """Register, change or remove the co-signer of a loan whose contract is not yet out."""
    loan = selectors.loan_for(request.user, pk)
    initial = {
        f"cosigner_{key}": getattr(loan, f"cosigner_{key}") for key in loan_services.COSIGNER_FIELDS
    }
    form = forms.CosignerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {key: form.cleaned_data[f"cosigner_{key}"] for key in loan_services.COSIGNER_FIELDS}
        try:
            changed = loan_services.set_cosigner(loan=loan, actor=request.user, **data)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            if changed:
                messages.success(
                    request,
                    _("Aval del crédito %(code)s guardado: %(name)s.")
                    % {"code": loan.payment_code, "name": data["name"] or _("sin aval")},
                )
            else:
                messages.info(request, _("El aval no cambió."))
            return redirect(loan)
    return render(request, "credits/loan_cosigner.html", {"loan": loan, "form": form})


@permission_required("credits.add_payment", raise_exception=True)
def payment_create(request: HttpRequest, pk: int) -> HttpResponse:
    loan = selectors.loan_for(request.user, pk)
    form = forms.PaymentForm(request.POST or None, request.FILES or None, loan=loan)
    if request.method == "POST" and form.is_valid():
        try:
            payment = payment_services.apply_payment(
                loan=loan, actor=request.user, **form.service_data()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _payment_summary(payment))
            return redirect(loan)
    balance = selectors.loan_balance(loan)
    return render(
        request,
        "credits/loan_payment_form.html",
        {
            "loan": loan,
            "form": form,
            "balance": balance,
            "with_next": balance.overdue + balance.next_due_amount,
            # With the credit balance (spent with a payment that settles the loan, unless
            # its excess is kept as credit): what the portal and the bot ask for.
            "settles_with_credit": selectors.settles_with_credit(loan, balance.to_settle)
            if selectors.has_credit_to_spend(loan)
            else None,
        },
    )


def _payment_summary(payment) -> str:
    currency = payment.loan.currency
    applied = payment.amount + payment.credit_spent - payment.prepaid_principal - payment.credited
    parts = [
        _("Pago de %(amount)s registrado: %(applied)s aplicado a cuotas")
        % {"amount": display.money_text(payment.amount, currency), "applied": _money(applied)}
    ]
    if payment.prepaid_principal:
        parts.append(
            _("%(amount)s prepagado a capital") % {"amount": _money(payment.prepaid_principal)}
        )
    if payment.credited:
        parts.append(_("%(amount)s a saldo a favor") % {"amount": _money(payment.credited)})
    summary = ", ".join(parts) + "."
    if payment.credit_spent:
        summary += " " + _("Con %(amount)s del saldo a favor, cancela el crédito.") % {
            "amount": _money(payment.credit_spent)
        }
    if payment.overpaid:
        summary += " " + _(
            "Es un pago en exceso: %(amount)s más de lo que cancelaba el crédito."
        ) % {"amount": _money(payment.overpaid)}
    return summary


@require_http_methods(["GET", "POST"])
@permission_required("credits.annul_payment", raise_exception=True)
def payment_annul(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """Annul a payment, with a reason, from its confirmation page: a GET shows it, and a POST
    without its confirm field shows it again, annulling nothing."""
    payment = selectors.payment_for(request.user, pk, payment_pk)
    loan = payment.loan
    form = forms.PaymentAnnulForm(request.POST or None)
    if not (form.is_valid() and is_confirmed(request.POST)):
        if not payment.is_applied:
            messages.info(
                request,
                _("Este pago ya fue anulado %(when_by)s.")
                % {"when_by": repeats.done_when_by(payment.annulled_at, payment.annulled_by)},
            )
            return redirect(loan)
        return _confirm_annulment(request, payment, form)
    try:
        payment_services.annul_payment(payment=payment, actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Pago de %(amount)s anulado.")
            % {"amount": display.money_text(payment.amount, loan.currency)},
        )
    return redirect(loan)


def _confirm_annulment(
    request: HttpRequest, payment: Payment, form: forms.PaymentAnnulForm
) -> HttpResponse:
    """Show what annulling the payment undoes: its installments, credit balance and the
    investors' shares, which the next liquidation takes back."""
    loan = payment.loan

    def money(amount: Decimal) -> str:
        return display.money_on_screen(amount, loan.currency)

    means = payment.get_source_display()
    if payment.reference:
        means += " · " + _("op. %(reference)s") % {"reference": payment.reference}
    figures = [
        (_("Monto"), money(payment.amount)),
        (_("Fecha del pago"), payment.received_on.strftime("%d/%m/%Y")),
        (_("Medio"), means),
    ]
    lines = []
    numbers = sorted(
        set(payment.allocations.values_list("installment__number", flat=True).distinct())
    )
    if numbers:
        lines.append(
            ngettext(
                "Lo que pagó de la cuota %(numbers)s vuelve a quedar pendiente.",
                "Lo que pagó de las cuotas %(numbers)s vuelve a quedar pendiente.",
                len(numbers),
            )
            % {"numbers": ", ".join(str(n) for n in numbers)}
        )
    if loan.installments.filter(created_by_payment=payment).exists():
        lines.append(_("El cronograma vuelve al que tenía antes de este pago."))
    if payment.credited:
        lines.append(
            _("Se quitan %(amount)s del saldo a favor.") % {"amount": money(payment.credited)}
        )
    if payment.source == Payment.Source.CREDIT_BALANCE:
        lines.append(
            _("Los %(amount)s vuelven al saldo a favor.") % {"amount": money(payment.amount)}
        )
    if payment.credit_spent:
        lines.append(
            _("Los %(amount)s del saldo a favor que usó vuelven al saldo a favor.")
            % {"amount": money(payment.credit_spent)}
        )
    shares = list(
        payment.distributions.filter(reversal_of__isnull=True, reversal__isnull=True)
        .select_related("investor")
        .order_by("investor__name", "pk")
    )
    if shares:
        figures.append(
            (
                _("Repartido a inversionistas (neto)"),
                "; ".join(f"{d.investor.name}: {money(d.net)}" for d in shares),
            )
        )
        lines.append(
            _(
                "Lo repartido a los inversionistas por este pago se revierte: la reversión "
                "entra en la próxima liquidación de cada uno."
            )
        )
    else:
        lines.append(_("Este pago no tiene repartos a inversionistas: ninguna liquidación cambia."))
    return _confirm_page(
        request,
        loan,
        title=_("¿Anular el pago #%(id)s de %(amount)s?")
        % {"id": payment.pk, "amount": money(payment.amount)},
        step=_("Anular pago"),
        figures=figures,
        lines=lines,
        warning=_(
            "No se puede deshacer: si el pago sí llegó, regístrelo de nuevo como un pago nuevo."
        ),
        field=form["reason"],
        hidden=[],
        button=_("Sí, anular el pago"),
    )


@require_http_methods(["GET", "POST"])
@permission_required("credits.view_loan", raise_exception=True)
def loan_transition(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a loan along its life cycle: one action per POST, each with its permission.

    Cancelling and writing off cannot be undone: they act only from their confirmation page,
    which a GET with `?action=` shows, as does a POST without the confirm field.
    """
    loan = selectors.loan_for(request.user, pk)
    if request.method == "GET":
        query = forms.ConfirmQueryForm(request.GET)
        if not query.is_valid():
            return HttpResponseNotAllowed(["POST"])
        action = query.cleaned_data["action"]
        if not forms.may_take(request.user, action, loan):
            raise PermissionDenied
        return _confirm_transition(request, loan, forms.TransitionForm(), action)
    form = forms.TransitionForm(request.POST)
    action = form.data.get("action")
    if action in forms.TransitionForm.ASKS_FIRST:
        if not forms.may_take(request.user, action, loan):
            raise PermissionDenied
        if not (form.is_valid() and is_confirmed(request.POST)):
            return _confirm_transition(request, loan, form, action)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(loan)
    if not forms.may_take(request.user, form.cleaned_data["action"], loan):
        raise PermissionDenied
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"].strip()
    if action == forms.TransitionForm.DISBURSE:
        return _disburse(request, loan)
    try:
        level, message = _run_transition(loan, action, reason, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.add_message(request, level, message)
    return redirect(loan)


def _confirm_transition(
    request: HttpRequest, loan: Loan, form: forms.TransitionForm, action: str
) -> HttpResponse:
    """Show what cancelling, writing off or annulling the disbursement of the loan does,
    with the reason's field."""
    if action == forms.TransitionForm.ANNUL_DISBURSEMENT:
        return _confirm_disbursement_annulment(request, loan, form)
    if action not in forms.available_actions(request.user, loan, has_open_contract=False):
        # Done already (the back button, a second tab), or the loan moved on meanwhile.
        messages.error(
            request,
            _("El crédito %(code)s está «%(state)s»: ya no se puede %(what)s.")
            % {
                "code": loan.payment_code,
                "state": loan.get_status_display(),
                "what": _("castigar") if action == forms.TransitionForm.WRITE_OFF else _("anular"),
            },
        )
        return redirect(loan)
    form.for_confirmation(action)
    common = {"field": form["reason"], "hidden": [("action", action)]}
    if action == forms.TransitionForm.CANCEL:
        return _confirm_page(
            request,
            loan,
            title=_("¿Anular el crédito %(code)s?") % {"code": loan.payment_code},
            step=_("Anular"),
            figures=[
                (_("Monto"), display.money_on_screen(loan.principal, loan.currency)),
                (_("Estado"), loan.get_status_display()),
            ],
            lines=[_("El crédito queda anulado: no se podrá desembolsar ni reactivar.")],
            warning=_("No se puede deshacer: para darlo, registre un crédito nuevo."),
            button=_("Sí, anular el crédito"),
            **common,
        )
    today = timezone.localdate()
    installments = list(selectors.live_installments(loan))
    balance = selectors.loan_balance(loan, today, installments=installments)

    def money(amount: Decimal) -> str:
        return display.money_on_screen(amount, loan.currency)

    figures = [
        (_("Saldo que se castiga"), money(balance.total_due)),
        (_("Capital pendiente"), money(balance.principal_due)),
        (_("Intereses pendientes"), money(balance.interest_due)),
    ]
    if balance.fee_due:
        figures.append((_("Comisiones pendientes"), money(balance.fee_due)))
    if balance.late_interest_due:
        figures.append((_("Interés moratorio pendiente"), money(balance.late_interest_due)))
    figures += [
        (_("Vencido"), money(balance.overdue)),
        (
            _("Días de atraso"),
            str(max((i.days_late(today) for i in installments), default=0)),
        ),
    ]
    return _confirm_page(
        request,
        loan,
        title=_("¿Castigar el crédito %(code)s?") % {"code": loan.payment_code},
        step=_("Castigar"),
        figures=figures,
        lines=[
            _(
                "El crédito pasa a la cartera castigada: sale de la cartera vigente y de sus "
                "indicadores. Lo que debe se sigue debiendo y se puede recuperar."
            )
        ],
        warning=_("No se puede deshacer: un crédito castigado no vuelve a la cartera vigente."),
        button=_("Sí, castigar el crédito"),
        **common,
    )


def _confirm_disbursement_annulment(
    request: HttpRequest, loan: Loan, form: forms.TransitionForm
) -> HttpResponse:
    """Show what annulling the loan's disbursement undoes, or, on the loan's page, why it
    may not be annulled (a payment since, a link open, done already)."""
    refusal = loan_services.disbursement_annulment_refusal(loan)
    if refusal:
        messages.error(request, refusal)
        return redirect(loan)
    action = forms.TransitionForm.ANNUL_DISBURSEMENT
    form.for_confirmation(action)
    today = timezone.localdate()
    installments = list(selectors.live_installments(loan))
    balance = selectors.loan_balance(loan, today, installments=installments)
    day = loan.disbursed_on.strftime("%d/%m/%Y")

    def money(amount: Decimal) -> str:
        return display.money_on_screen(amount, loan.currency)

    figures = [
        (_("Monto desembolsado"), money(loan.principal)),
        (_("Fecha del desembolso"), day),
        (_("Cuotas del cronograma"), str(len(installments))),
    ]
    if balance.late_interest_due:
        figures.append((_("Interés moratorio cargado"), money(balance.late_interest_due)))
    lines = [
        _(
            "El crédito vuelve a «Por desembolsar»: su cronograma y lo que debía salen del "
            "libro con asientos de anulación (también el interés moratorio cargado)."
        ),
        _(
            "Sale de la cartera desde el %(day)s: las cifras de la cartera de esos días se "
            "calculan de nuevo."
        )
        % {"day": day},
        _(
            "Después puede desembolsarlo otra vez con la fecha correcta, o anularlo si el "
            "monto era otro."
        ),
    ]
    investors = loan.participations.count()
    if investors:
        lines.append(
            ngettext(
                "Su inversionista sigue asignado; su capital no cuenta como colocado hasta el "
                "nuevo desembolso.",
                "Sus %(n)s inversionistas siguen asignados; su capital no cuenta como colocado "
                "hasta el nuevo desembolso.",
                investors,
            )
            % {"n": investors}
        )
    return _confirm_page(
        request,
        loan,
        title=_("¿Anular el desembolso del crédito %(code)s?") % {"code": loan.payment_code},
        step=_("Anular desembolso"),
        figures=figures,
        lines=lines,
        warning=_(
            "Hágalo solo si el desembolso se registró por error (otra fecha, otro monto, o el "
            "dinero no se entregó). El historial del cliente lo registra con su motivo."
        ),
        field=form["reason"],
        hidden=[("action", action)],
        button=_("Sí, anular el desembolso"),
    )


def _confirm_page(
    request: HttpRequest,
    loan: Loan,
    *,
    title: str,
    step: str,
    figures: list[tuple[str, str]],
    lines: list[str],
    warning: str,
    field,
    hidden: list[tuple[str, str]],
    button: str,
) -> HttpResponse:
    """Render a loan action's confirmation page: its figures, and a form that sends it again
    with the reason and the confirm field. Cancelar goes back to the loan's page."""
    return render(
        request,
        "credits/confirm_action.html",
        {
            "title": title,
            "subtitle": _("%(name)s · crédito %(code)s")
            % {"name": loan.customer.full_name, "code": loan.payment_code},
            "breadcrumb": [
                (_("Créditos"), reverse("credits:loan_list")),
                (loan.payment_code, loan.get_absolute_url()),
            ],
            "step": step,
            "figures": figures,
            "lines": lines,
            "warning": warning,
            "field": field,
            "non_field_errors": field.form.non_field_errors(),
            "hidden": hidden,
            "confirm_field": CONFIRM_FIELD,
            "action": request.path,
            "button": button,
            "cancel_url": loan.get_absolute_url(),
        },
    )


def _disburse(request: HttpRequest, loan: Loan) -> HttpResponse:
    """Disburse on the day the form gives, once the person saw it on its own page."""
    form = forms.DisburseForm(request.POST, loan=loan)
    if not form.is_valid():
        # Each error names the date already ("La fecha del desembolso no puede…").
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(loan)
    day = form.cleaned_data["disbursed_on"]
    if form.needs_review():
        today = timezone.localdate()
        due = [row for row in loan_services.schedule_for(loan).rows if row.due_date < today]
        return render(
            request,
            "credits/loan_disburse_confirm.html",
            {"loan": loan, "form": form, "day": day, "today": today, "due_rows": due},
        )
    try:
        loan_services.disburse(loan=loan, actor=request.user, disbursed_on=day)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        done = {"code": loan.payment_code, "day": day.strftime("%d/%m/%Y")}
        if day == timezone.localdate():
            messages.success(
                request, _("Crédito %(code)s desembolsado: su cronograma está vigente.") % done
            )
        else:
            messages.success(
                request,
                _(
                    "Crédito %(code)s desembolsado con fecha %(day)s: su cronograma está "
                    "vigente. Registre los pagos ya recibidos con las fechas en que llegaron."
                )
                % done,
            )
    return redirect(loan)


def _run_transition(loan: Loan, action: str, reason: str, actor) -> tuple[int, str]:
    """Call the one service of `action`; return the message level and what to tell the user."""
    if action == forms.TransitionForm.SEND_FOR_SIGNATURE:
        contract = contract_services.send_for_signature(loan=loan, actor=actor)
        return _contract_outcome(contract)
    if action == forms.TransitionForm.RESEND_CONTRACT:
        contract = contract_services.resend_contract(loan=loan, actor=actor)
        return _contract_outcome(contract)
    return messages.SUCCESS, _run_ledger_transition(loan, action, reason, actor)


def _contract_outcome(contract: LoanContract) -> tuple[int, str]:
    """Say what became of a contract sent to DocuSeal, as far as is known right now.

    The sending runs after the commit: in a worker (the contract is still queued) or, with
    an eager queue, already done (sent or refused).
    """
    contract.refresh_from_db(fields=["status", "error", "submission_id"])
    values = {
        "code": contract.loan.payment_code,
        "email": contract_services.signer_emails(contract),
    }
    if contract.status == LoanContract.Status.SENT:
        return messages.SUCCESS, _(
            "DocuSeal recibió el contrato del crédito %(code)s y pidió la firma a %(email)s."
        ) % values
    if contract.status == LoanContract.Status.FAILED:
        return messages.ERROR, _(
            "No se pudo enviar el contrato del crédito %(code)s a DocuSeal («%(error)s»). "
            "Revise los datos y reenvíelo."
        ) % {**values, "error": contract.error}
    return messages.INFO, _(
        "Contrato del crédito %(code)s en cola para DocuSeal, para la firma de %(email)s. "
        "Su estado se actualiza en «Contratos» cuando DocuSeal lo confirme."
    ) % values


def _run_ledger_transition(loan: Loan, action: str, reason: str, actor) -> str:
    """Call the service of a life-cycle move that is done once it returns; say what it did."""
    code = {"code": loan.payment_code}
    if action == forms.TransitionForm.MARK_SIGNED:
        loan_services.change_status(
            loan=loan, to=Loan.Status.READY_TO_DISBURSE, actor=actor, reason=reason
        )
        return _("Crédito %(code)s listo para desembolsar.") % code
    if action == forms.TransitionForm.CANCEL:
        loan_services.change_status(loan=loan, to=Loan.Status.CANCELLED, actor=actor, reason=reason)
        return _("Crédito %(code)s anulado.") % code
    if action == forms.TransitionForm.WRITE_OFF:
        loan_services.write_off(loan=loan, actor=actor, reason=reason)
        return _("Crédito %(code)s castigado.") % code
    if action == forms.TransitionForm.ANNUL_DISBURSEMENT:
        loan_services.annul_disbursement(loan=loan, actor=actor, reason=reason)
        return (
            _("Desembolso del crédito %(code)s anulado: el crédito está «Por desembolsar».") % code
        )
    payment = payment_services.apply_credit_balance(loan=loan, actor=actor)
    return _("Saldo a favor de %(amount)s aplicado a las cuotas.") % {
        "amount": display.money_text(payment.amount, loan.currency),
    }


@require_POST
@permission_required("credits.add_participation", raise_exception=True)
def participation_add(request: HttpRequest, pk: int) -> HttpResponse:
    loan = selectors.loan_for(request.user, pk)
    form = forms.ParticipationForm(request.POST, currency=loan.currency)
    if form.is_valid():
        try:
            participation = investor_services.add_participation(
                loan=loan, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            message = _("%(investor)s financia %(amount)s (%(share)s %%).") % {
                "investor": participation.investor.name,
                "amount": display.money_text(participation.amount, loan.currency),
                "share": format(participation.share.normalize(), "f"),
            }
            if not request.htmx:
                messages.success(request, message)
                return redirect(loan)
            form = forms.ParticipationForm(currency=loan.currency)
            return _participations(request, loan, form, added=message)
    if not request.htmx:
        messages.error(request, _form_errors(form))
        return redirect(loan)
    # htmx 2 swaps only 2xx answers: the invalid form comes back with 200.
    return _participations(request, loan, form)


def _participations(request: HttpRequest, loan: Loan, form, added: str = "") -> HttpResponse:
    return render(
        request,
        "credits/partials/loan_participations.html",
        {
            "loan": loan,
            "participations": selectors.loan_participations(loan),
            "participation_form": form,
            "added": added,
        },
    )


@require_GET
@permission_required("credits.view_portfolio", raise_exception=True)
def portfolio_report(request: HttpRequest) -> HttpResponse:
    """Show the portfolio by aging bucket, PAR and this month's collections, as of a day,
    of the loans in one currency (soles and dollars are never added up)."""
    form = forms.PortfolioForm(request.GET)
    as_of, currency = form.day(), form.currency_for()
    summary, computed_at, is_stale = portfolio.portfolio_figures(as_of, currency)
    context = {
        "form": form,
        "as_of": as_of,
        "currency": currency,
        "currencies": Currency.choices,
        "summary": summary,
        "computed_at": computed_at,
        "is_stale": is_stale,
        "total_loans": sum(b["loans"] for b in summary.buckets),
        "bucket_chart": _bucket_chart(summary, currency),
    }
    return lists.render_page_or_fragment(
        request,
        page_template="credits/portfolio.html",
        fragment_template="credits/partials/portfolio_figures.html",
        context=context,
        url="replace",
    )


def _bucket_chart(summary: selectors.PortfolioSummary, currency: str) -> dict:
    """Return static/js/charts.js data: outstanding principal per aging bucket."""
    return {
        "type": "bar",
        "labels": [b["label"] for b in summary.buckets],
        "datasets": [
            {
                "label": _("Capital pendiente"),
                "data": [b["outstanding"] for b in summary.buckets],
                "color": "primary",
            }
        ],
        "options": {"money": True, "currency": currency, "xLabel": _("Tramo")},
    }


@require_GET
@permission_required("credits.view_portfolio", raise_exception=True)
def portfolio_xlsx(request: HttpRequest) -> HttpResponse:
    """Download the portfolio report as of a day, of the loans in one currency: the buckets,
    and every loan in them. A bad day or currency gets a 400 with the errors, not another
    day's file."""
    form = forms.PortfolioForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(
            " ".join(form.error_list()), content_type="text/plain; charset=utf-8"
        )
    as_of, currency = form.day(), form.currency_for()
    summary = selectors.portfolio_summary(as_of, currency=currency)
    # Write-only mode keeps one row at a time in memory, however many loans there are.
    book = Workbook(write_only=True)
    _summary_sheet(book, summary, as_of, currency)
    _loans_sheet(book, selectors.portfolio_loans(as_of, currency=currency), currency)
    content = BytesIO()
    book.save(content)
    response = HttpResponse(content.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="cartera-{currency}-{as_of:%Y-%m-%d}.xlsx"'
    )
    return response


def _cells(sheet, values: list, *, money: tuple[int, ...] = (), bold: bool = False) -> list:
    cells = []
    for index, value in enumerate(values):
        # openpyxl takes str, numbers and dates; a text (a customer's name, a lazy
        # translation) is written as text, never as a formula.
        if isinstance(value, str | Promise):
            cell = spreadsheets.xlsx_text_cell(sheet, str(value))
        else:
            cell = WriteOnlyCell(sheet, value=value)
        if index in money:
            cell.number_format = MONEY_FORMAT
        if bold:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _summary_sheet(
    book: Workbook, summary: selectors.PortfolioSummary, as_of, currency: str
) -> None:
    sheet = book.create_sheet(_("Resumen"))
    symbol = display.currency_symbol(currency)
    title = _("Cartera al %(day)s, en %(symbol)s: los créditos en esa moneda") % {
        "day": f"{as_of:%d/%m/%Y}",
        "symbol": symbol,
    }
    sheet.append(_cells(sheet, [title], bold=True))
    sheet.append([])
    headers = [_("Tramo"), _("Créditos"), _("Capital pendiente (%s)") % symbol, "%"]
    sheet.append(_cells(sheet, headers, bold=True))
    for bucket in summary.buckets:
        sheet.append(
            _cells(
                sheet,
                [bucket["label"], bucket["loans"], bucket["outstanding"], bucket["percent"]],
                money=(2, 3),
            )
        )
    total_loans = sum(b["loans"] for b in summary.buckets)
    sheet.append(
        _cells(
            sheet,
            [_("Total"), total_loans, summary.outstanding, Decimal(100)],
            money=(2, 3),
            bold=True,
        )
    )
    sheet.append(
        _cells(
            sheet,
            [_("Castigado (fuera de la cartera)"), summary.written_off_loans, summary.written_off],
            money=(2,),
        )
    )
    sheet.append([])
    sheet.append(_cells(sheet, [_("PAR30 (%)"), summary.par30], money=(1,)))
    sheet.append(_cells(sheet, [_("PAR90 (%)"), summary.par90], money=(1,)))
    sheet.append(
        _cells(
            sheet,
            [_("Cobrado en el mes (%s)") % symbol, summary.collected_this_month],
            money=(1,),
        )
    )
    sheet.append(_cells(sheet, [_("Pagos en el mes"), summary.payments_this_month]))


def _loans_sheet(book: Workbook, rows: Iterable[selectors.PortfolioLoan], currency: str) -> None:
    sheet = book.create_sheet(_("Créditos"))
    headers = [
        _("Código de pago"),
        _("Cliente"),
        _("Documento"),
        _("Producto"),
        _("Saldo capital (%s)") % display.currency_symbol(currency),
        _("Días de atraso"),
        _("Tramo"),
    ]
    sheet.append(_cells(sheet, headers, bold=True))
    for row in rows:
        customer = row.loan.customer
        sheet.append(
            _cells(
                sheet,
                [
                    row.loan.payment_code,
                    customer.full_name,
                    f"{customer.get_document_type_display()} {customer.document_number}",
                    row.loan.product.name,
                    row.outstanding,
                    row.days_past_due,
                    row.bucket_label,
                ],
                money=(4,),
            )
        )


def _form_errors(form) -> str:
    """Return a form's errors as one sentence, for a message on the page it came from."""
    return " ".join(
        error if name == "__all__" else f"{form[name].label}: {error}"
        for name, errors in form.errors.items()
        for error in errors
    )


def _money(amount: Decimal) -> str:
    return number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
