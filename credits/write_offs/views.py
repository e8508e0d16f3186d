"""The screens of write-offs in bulk (*castigo en lote*): choose the loans, see what they owe,
confirm, follow the run, and the history of batches.

The choice goes by POST (a list of pasted payment codes does not fit in an address): the
criteria form shows the preview; the preview's reason form shows the confirmation page
(credits/confirm_action.html); only that page's form, with its confirm field, makes the
batch. Whoever may write off one loan (`credits.write_off_loan`) may do all of it.
"""

import re
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods

from credits.models import LoanProduct, WriteOffBatch
from credits.write_offs import services as write_offs
from crm import display
from crm.models import Branch
from lib import fields as lib_fields
from lib.confirmation import CONFIRM_FIELD, is_confirmed
from lib.money import Currency

PERMISSIONS = ["credits.view_loan", write_offs.PERMISSION]
PAGE_SIZE = 25
# A finished batch's page lists this many skipped loans (a batch skips few).
SKIPPED_SHOWN = 1_000
# At most this many payment codes pasted, each at most CODE_LENGTH characters (the loan's
# field): a longer list is more than a person reviews, and goes in several batches.
MAX_CODES = 2_000
CODE_LENGTH = 30
CODE_RE = re.compile(r"[A-Za-z0-9\-]+")
# Days past due are at most this many (a century): more is a typo.
MAX_DAYS = 36_500
# The steps the form's hidden `step` names.
PREVIEW, WRITE_OFF = "preview", "write_off"


# --- Forms ---------------------------------------------------------------------------------


class CriteriaForm(forms.Form):
    """Which active loans to write off: one currency, at least so many days late, and if
    given a product, a branch and the payment codes pasted."""

    currency = forms.ChoiceField(
        label=gettext_lazy("Moneda"),
        choices=Currency.choices,
        error_messages={
            "required": gettext_lazy("Elija la moneda: se castiga una moneda a la vez."),
            "invalid_choice": gettext_lazy("Elija soles o dólares."),
        },
    )
    product = forms.ModelChoiceField(
        label=gettext_lazy("Producto"),
        queryset=LoanProduct.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("Todos los productos"),
        error_messages={"invalid_choice": gettext_lazy("Elija un producto de la lista.")},
    )
    branch = forms.ModelChoiceField(
        label=gettext_lazy("Sucursal"),
        queryset=Branch.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("Todas las sucursales"),
        error_messages={"invalid_choice": gettext_lazy("Elija una sucursal de la lista.")},
    )
    min_days = lib_fields.IntegerField(
        label=gettext_lazy("Días de atraso, como mínimo"),
        min_value=1,
        max_value=MAX_DAYS,
        help_text=gettext_lazy("Los créditos con al menos estos días de atraso (p. ej., 360)."),
        error_messages={
            "required": gettext_lazy("Indique los días de atraso mínimos (1 o más)."),
            "min_value": gettext_lazy("Los días de atraso mínimos son 1 o más."),
            "max_value": gettext_lazy(
                "Los días de atraso mínimos son como máximo %(limit_value)s."
            ),
            "invalid": gettext_lazy("Indique los días de atraso como un número entero."),
        },
    )
    codes = forms.CharField(
        label=gettext_lazy("Códigos de pago (opcional)"),
        required=False,
        strip=True,
        max_length=MAX_CODES * (CODE_LENGTH + 2),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "Uno por línea, hasta 2,000: solo esos créditos, si cumplen los demás filtros."
        ),
        error_messages={
            "max_length": gettext_lazy("La lista es demasiado larga: pegue hasta 2,000 códigos."),
        },
    )

    def clean_codes(self) -> tuple[str, ...]:
        codes = write_offs.codes_in(self.cleaned_data["codes"])
        if len(codes) > MAX_CODES:
            raise ValidationError(
                _("Pegó %(n)s códigos: el máximo es %(max)s. Divídalos en varios lotes.")
                % {"n": display.whole(len(codes)), "max": display.whole(MAX_CODES)}
            )
        bad = [code for code in codes if len(code) > CODE_LENGTH or not CODE_RE.fullmatch(code)]
        if bad:
            raise ValidationError(
                ngettext(
                    "Este código de pago no es válido: %(codes)s.",
                    "Estos códigos de pago no son válidos: %(codes)s.",
                    len(bad),
                )
                % {"codes": ", ".join(code[:CODE_LENGTH] for code in bad[:10])}
            )
        return tuple(codes)

    def criteria(self) -> write_offs.Criteria:
        data = self.cleaned_data
        return write_offs.Criteria(
            currency=data["currency"],
            min_days_past_due=data["min_days"],
            product=data["product"],
            branch=data["branch"],
            payment_codes=data["codes"],
        )

    def hidden(self) -> list[tuple[str, str]]:
        """The criteria as the next step's hidden fields (the codes on one line)."""
        data = self.cleaned_data
        return [
            ("currency", data["currency"]),
            ("product", str(data["product"].pk) if data["product"] else ""),
            ("branch", str(data["branch"].pk) if data["branch"] else ""),
            ("min_days", str(data["min_days"])),
            ("codes", " ".join(data["codes"])),
        ]


class ReasonForm(forms.Form):
    """Why the loans are written off, and the figures the confirmation page showed."""

    reason = forms.CharField(
        label=gettext_lazy("Motivo del castigo"),
        max_length=200,
        help_text=gettext_lazy(
            "Queda en cada crédito y en el historial de su cliente, con el número del lote."
        ),
        error_messages={
            "required": gettext_lazy("Indique el motivo del castigo."),
            "max_length": gettext_lazy("El motivo tiene como máximo 200 caracteres."),
        },
    )
    expected_count = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    expected_total = forms.DecimalField(
        required=False, max_digits=16, decimal_places=2, widget=forms.HiddenInput
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Indique el motivo del castigo."))
        return reason


# --- Views ---------------------------------------------------------------------------------


@require_GET
@permission_required(PERMISSIONS, raise_exception=True)
def write_off_batch_list(request: HttpRequest) -> HttpResponse:
    """The history of write-offs in bulk, newest first."""
    page = Paginator(write_offs.batch_list(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # A batch not done (running, or interrupted before its counts were kept) is counted
    # from its items: all of the page's in one query.
    unfinished = [b for b in page.object_list if b.status != WriteOffBatch.Status.DONE]
    counted = write_offs.tallies(b.pk for b in unfinished)
    for batch in unfinished:
        batch.tally = counted[batch.pk]
    return render(request, "credits/write_off_list.html", {"page": page})


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSIONS, raise_exception=True)
def write_off_new(request: HttpRequest) -> HttpResponse:
    """Choose the loans (GET: the form), see them (POST step=preview), confirm (POST
    step=write_off: its confirmation page, then the batch once that page's form is sent)."""
    if request.method == "GET":
        form = CriteriaForm(initial={"currency": request.GET.get("currency") or None})
        return _criteria_page(request, form)
    form = CriteriaForm(request.POST)
    if not form.is_valid():
        return _criteria_page(request, form)
    if request.POST.get("step") != WRITE_OFF:
        return _criteria_page(request, form, reason_form=ReasonForm())
    reason_form = ReasonForm(request.POST)
    if not reason_form.is_valid():
        return _criteria_page(request, form, reason_form=reason_form)
    criteria = form.criteria()
    preview = write_offs.preview(request.user, criteria)
    refusal = write_offs.size_refusal(preview.count)
    if refusal:
        form.add_error(None, refusal)
        return _criteria_page(request, form)
    if not is_confirmed(request.POST):
        return _confirm_page(request, form, reason_form, preview)
    try:
        batch = write_offs.create_batch(
            actor=request.user,
            criteria=criteria,
            reason=reason_form.cleaned_data["reason"],
            expected_count=reason_form.cleaned_data["expected_count"] or 0,
            expected_total=reason_form.cleaned_data["expected_total"] or Decimal(0),
        )
    except ValidationError as exc:
        reason_form.add_error(None, exc)
        return _confirm_page(request, form, reason_form, write_offs.preview(request.user, criteria))
    messages.success(
        request,
        ngettext(
            "Castigo en lote #%(n)s en marcha: %(count)s crédito.",
            "Castigo en lote #%(n)s en marcha: %(count)s créditos.",
            batch.loan_count,
        )
        % {"n": batch.pk, "count": display.whole(batch.loan_count)},
    )
    return redirect(batch)


def _criteria_page(
    request: HttpRequest, form: CriteriaForm, *, reason_form: ReasonForm | None = None
) -> HttpResponse:
    """The criteria form and, once they are valid and asked for, the preview under it."""
    context = {
        "form": form,
        "reason_form": reason_form,
        "preview": None,
        "PREVIEW": PREVIEW,
        "max_loans": display.whole(write_offs.MAX_LOANS),
    }
    if reason_form is not None and form.is_valid():
        preview = write_offs.preview(request.user, form.criteria())
        context.update(
            {
                "preview": preview,
                "refusal": write_offs.size_refusal(preview.count),
                "hidden": [*form.hidden(), ("step", WRITE_OFF)],
                "money": {
                    "principal": display.money_on_screen(
                        preview.principal, form.cleaned_data["currency"]
                    ),
                    "total": display.money_on_screen(preview.total, form.cleaned_data["currency"]),
                },
                "rows": [
                    (loan, display.money_on_screen(loan.owed, loan.currency))
                    for loan in preview.rows
                ],
            }
        )
    return render(request, "credits/write_off_new.html", context)


def _confirm_page(
    request: HttpRequest,
    form: CriteriaForm,
    reason_form: ReasonForm,
    preview: write_offs.Preview,
) -> HttpResponse:
    """Say what the batch will do, in figures, with the reason; its form sends it all again
    with the confirm field and the figures shown, which the batch must still match."""
    currency = form.cleaned_data["currency"]
    count = display.whole(preview.count)
    criteria = form.cleaned_data
    figures = [
        (_("Créditos"), count),
        (_("Capital pendiente"), display.money_on_screen(preview.principal, currency)),
        (_("Saldo que se castiga"), display.money_on_screen(preview.total, currency)),
        (_("Moneda"), Currency(currency).label),
        (_("Días de atraso, como mínimo"), str(criteria["min_days"])),
    ]
    if criteria["product"]:
        figures.append((_("Producto"), str(criteria["product"])))
    if criteria["branch"]:
        figures.append((_("Sucursal"), str(criteria["branch"])))
    if criteria["codes"]:
        figures.append((_("Códigos de pago pegados"), display.whole(len(criteria["codes"]))))
    total = display.money_on_screen(preview.total, currency)
    return render(
        request,
        "credits/confirm_action.html",
        {
            "title": ngettext(
                "¿Castigar %(n)s crédito por %(total)s?",
                "¿Castigar %(n)s créditos por %(total)s?",
                preview.count,
            )
            % {"n": count, "total": total},
            "subtitle": _("Castigo en lote"),
            "breadcrumb": [
                (_("Créditos"), reverse("credits:loan_list")),
                (_("Castigos en lote"), reverse("credits:write_off_batch_list")),
            ],
            "step": _("Confirmar el castigo"),
            "figures": figures,
            "lines": [
                _(
                    "Cada crédito pasa a la cartera castigada: sale de la cartera vigente y de "
                    "sus indicadores. Lo que debe se sigue debiendo y se puede recuperar."
                ),
                _(
                    "Se castigan en segundo plano, uno por uno; un crédito pagado o cambiado "
                    "antes de su turno se omite y el resultado dice por qué."
                ),
                _("El historial de cada cliente lo registra con el motivo y el número del lote."),
            ],
            "warning": _(
                "No se puede deshacer: un crédito castigado no vuelve a la cartera vigente."
            ),
            "field": reason_form["reason"],
            "non_field_errors": reason_form.non_field_errors(),
            "hidden": [
                *form.hidden(),
                ("step", WRITE_OFF),
                ("expected_count", str(preview.count)),
                ("expected_total", str(preview.total)),
            ],
            "confirm_field": CONFIRM_FIELD,
            "action": request.path,
            "button": ngettext(
                "Sí, castigar %(n)s crédito", "Sí, castigar %(n)s créditos", preview.count
            )
            % {"n": count},
            "cancel_url": reverse("credits:write_off_new"),
        },
    )


@require_GET
@permission_required(PERMISSIONS, raise_exception=True)
def write_off_batch(request: HttpRequest, pk: int) -> HttpResponse:
    """A batch: its criteria, its progress while it runs, and what it did."""
    batch = write_offs.batch_for(request.user, pk)
    return render(request, "credits/write_off_batch.html", _batch_context(batch))


@require_GET
@permission_required(PERMISSIONS, raise_exception=True)
def write_off_batch_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The batch's state block alone: what its page asks for every second while it runs."""
    batch = write_offs.batch_for(request.user, pk)
    response = render(request, "credits/write_off_batch.html#status", _batch_context(batch))
    if batch.is_finished:
        # The run ended: the whole page has the results (the block alone does not).
        response["HX-Refresh"] = "true"
    return response


def _batch_context(batch: WriteOffBatch) -> dict:
    done = batch.status == WriteOffBatch.Status.DONE
    counted = None if done else write_offs.tally(batch)
    skipped = list(write_offs.skipped_items(batch)[:SKIPPED_SHOWN]) if batch.is_finished else []
    principal = batch.principal_written_off if done else counted.principal
    total = batch.total_written_off if done else counted.total
    return {
        "batch": batch,
        "progress": write_offs.progress(batch),
        "tally": counted,
        "written_off": batch.written_off_count if done else counted.written_off,
        "skipped_count": batch.skipped_count if done else counted.skipped,
        "pending": 0 if done else counted.pending,
        "principal": display.money_on_screen(principal, batch.currency),
        "total": display.money_on_screen(total, batch.currency),
        "principal_at_confirmation": display.money_on_screen(
            batch.principal_at_confirmation, batch.currency
        ),
        "total_at_confirmation": display.money_on_screen(
            batch.total_at_confirmation, batch.currency
        ),
        "skipped": skipped,
        "skipped_shown": SKIPPED_SHOWN,
    }
