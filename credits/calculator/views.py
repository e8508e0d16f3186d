"""The public calculator (/calculadora/), its "Quiero invertir" lead form and its "Quiero un
crédito" page (/calculadora/credito/).

Anyone may use them: the views are `login_not_required`, the lead forms are guarded by
reCAPTCHA v3 and a per-address rate limit. Figures come from `credits.schedule`, the
same engine the loan form and the API use. A credit lead goes to the receiver another
app registered (`services.send_credit_lead`).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from credits import schedule
from credits.calculator import forms, services
from credits.schedule import Method, Schedule
from integrations import recaptcha
from lib import lists, ratelimit

RECAPTCHA_ACTION = "invest_lead"
CREDIT_RECAPTCHA_ACTION = "credit_lead"
# A person sends the form once or twice; more from one address is a script.
DEFAULT_LEAD_RATE_LIMIT = "5/h"
# Typing updates the figures at most every 400 ms; a 600-installment page costs ~0.3 s.
DEFAULT_SIMULATION_RATE_LIMIT = "120/m"

SHORT_NAMES = {
    Method.FRENCH: gettext_lazy("Francés"),
    Method.GERMAN: gettext_lazy("Alemán"),
    Method.FLAT: gettext_lazy("Flat"),
}
DESCRIPTIONS = {
    Method.FRENCH: gettext_lazy("Cuota fija; el interés se calcula sobre el saldo pendiente."),
    Method.GERMAN: gettext_lazy(
        "Capital fijo; el interés sobre el saldo pendiente baja cada cuota."
    ),
    Method.FLAT: gettext_lazy("Interés sobre el monto original en todas las cuotas."),
}
# Bootstrap color names, the same for a scheme in its card and in the charts.
COLORS = {Method.FRENCH: "primary", Method.GERMAN: "success", Method.FLAT: "warning"}


@dataclass(frozen=True)
class Scheme:
    """One amortization method's schedule, as the calculator shows it."""

    method: Method
    schedule: Schedule

    @property
    def name(self) -> str:
        return str(SHORT_NAMES[self.method])

    @property
    def description(self) -> str:
        return str(DESCRIPTIONS[self.method])

    @property
    def color(self) -> str:
        return COLORS[self.method]

    @property
    def first_installment(self) -> Decimal:
        return self.schedule.rows[0].total

    @property
    def last_installment(self) -> Decimal:
        return self.schedule.rows[-1].total

    @property
    def has_level_installment(self) -> bool:
        """Whether every installment is the same but for the last one's rounding cents."""
        return self.method != Method.GERMAN


def compare(*, amount: Decimal, annual_rate: Decimal, term: int, frequency: str) -> list[Scheme]:
    """Return the French, German and flat schedules of the same loan, starting today."""
    today = timezone.localdate()
    first_due_date = schedule.first_due_date_after(today, frequency)
    return [
        Scheme(
            method=method,
            schedule=schedule.build_schedule(
                principal=amount,
                annual_rate=annual_rate,
                term=term,
                method=method,
                frequency=frequency,
                first_due_date=first_due_date,
                start_date=today,
            ),
        )
        for method in Method
    ]


def balance_chart(schemes: list[Scheme], amount: Decimal) -> dict[str, Any]:
    """Return static/js/charts.js data: the balance still owed after each installment."""
    term = len(schemes[0].schedule.rows)
    return {
        "type": "line",
        "labels": [str(n) for n in range(term + 1)],
        "datasets": [
            {
                "label": s.name,
                "color": s.color,
                "data": [amount, *(row.balance for row in s.schedule.rows)],
            }
            for s in schemes
        ],
        "options": {"money": True, "currency": settings.CURRENCY, "xLabel": _("Cuota")},
    }


def interest_chart(schemes: list[Scheme]) -> dict[str, Any]:
    """Return static/js/charts.js data: the interest each installment pays."""
    term = len(schemes[0].schedule.rows)
    return {
        "type": "bar",
        "labels": [str(n) for n in range(1, term + 1)],
        "datasets": [
            {
                "label": s.name,
                "color": s.color,
                "data": [row.interest for row in s.schedule.rows],
            }
            for s in schemes
        ],
        "options": {"money": True, "currency": settings.CURRENCY, "xLabel": _("Cuota")},
    }


def results_context(form: forms.CalculatorForm) -> dict[str, Any]:
    """Return what the results fragment shows for a bound calculator form."""
    if not form.is_valid():
        return {"form": form, "schemes": []}
    data = form.cleaned_data
    schemes = compare(
        amount=data["amount"],
        annual_rate=data["annual_rate"],
        term=data["term"],
        frequency=data["frequency"],
    )
    return {
        "form": form,
        "schemes": schemes,
        "balance_chart": balance_chart(schemes, data["amount"]),
        "interest_chart": interest_chart(schemes),
    }


@require_GET
@login_not_required
@csp_update(recaptcha.CSP)
def calculator(request: HttpRequest) -> HttpResponse:
    """Show the three schemes for the query's figures; an htmx request gets the results only."""
    form = forms.CalculatorForm.from_query(request.GET)
    rate = getattr(settings, "CALCULATOR_RATE_LIMIT", DEFAULT_SIMULATION_RATE_LIMIT)
    if not ratelimit.allow(request, scope="calculator", rate=rate):
        form.add_error(
            None, _("Demasiadas simulaciones seguidas desde su conexión. Espere un minuto.")
        )
    initial_amount = form.cleaned_data.get("amount") if form.is_valid() else None
    context = {
        **results_context(form),
        **_page_context(),
        "lead_form": forms.InvestLeadForm(initial={"amount": initial_amount}),
    }
    # The address follows the figures without a history entry per keystroke.
    return lists.render_page_or_fragment(
        request,
        page_template="credits/calculator.html",
        fragment_template="credits/partials/calculator_results.html",
        context=context,
        url="replace",
    )


@require_POST
@login_not_required
@csp_update(recaptcha.CSP)
def invest_lead(request: HttpRequest) -> HttpResponse:
    """Take a prospect's "Quiero invertir" form: check it is a person, then record the lead."""
    lead_form = forms.InvestLeadForm(request.POST)
    simulation_form = forms.CalculatorForm.from_query(_unprefixed(request.POST, "sim"))
    rate = getattr(settings, "CALCULATOR_LEAD_RATE_LIMIT", DEFAULT_LEAD_RATE_LIMIT)
    if (
        ratelimit.allow_form(request, lead_form, scope="calculator-lead", rate=rate)
        and lead_form.is_valid()
        and recaptcha.form_is_from_a_person(
            lead_form,
            action=RECAPTCHA_ACTION,
            remote_ip=ratelimit.client_ip(request),
            hostname=request.get_host(),
        )
    ):
        try:
            amount = lead_form.cleaned_data["amount"]
            simulation = _simulation(simulation_form)
            services.record_investment_lead(
                data=lead_form.customer_data(),
                summary=_("Quiere invertir S/ %(amount)s (calculadora)")
                % {"amount": _money(amount)},
                details={**_simulation_summary(simulation), "simulation": simulation},
            )
        except ValidationError as exc:
            # As plain messages: the service may name fields this form does not have.
            lead_form.add_error(None, exc.messages)
        else:
            messages.success(
                request,
                # What was done: the lead waits for an advisor; no time is promised.
                _("¡Gracias, %(name)s! Recibimos sus datos: un asesor se comunicará con usted.")
                % {"name": lead_form.cleaned_data["first_name"]},
            )
            return redirect(_calculator_url(simulation_form))
    context = results_context(simulation_form)
    context["lead_form"] = lead_form
    return _render_page(request, context)


@require_http_methods(["GET", "POST"])
@login_not_required
@csp_update(recaptcha.CSP)
def credit_lead(request: HttpRequest) -> HttpResponse:
    """Take a prospect's "Quiero un crédito" form: check it is a person, then hand it over.

    The figures simulated on the calculator (`?amount=&term=`) fill the form in.
    """
    if not services.receives_credit_leads():
        raise Http404
    if request.method == "GET":
        initial = forms.CreditQueryForm(request.GET).figures()
        return _render_credit(request, forms.CreditLeadForm(initial=initial))
    form = forms.CreditLeadForm(request.POST)
    rate = getattr(settings, "CALCULATOR_LEAD_RATE_LIMIT", DEFAULT_LEAD_RATE_LIMIT)
    if (
        ratelimit.allow_form(request, form, scope="calculator-credit", rate=rate)
        and form.is_valid()
        and recaptcha.form_is_from_a_person(
            form,
            action=CREDIT_RECAPTCHA_ACTION,
            remote_ip=ratelimit.client_ip(request),
            hostname=request.get_host(),
        )
    ):
        try:
            receipt = services.send_credit_lead(data=form.lead_data(), received_at=timezone.now())
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            message = _(
                "¡Gracias, %(name)s! Recibimos su solicitud de crédito: un asesor la revisará "
                "y se comunicará con usted."
            ) % {"name": form.cleaned_data["first_name"]}
            if receipt.is_confirmation_queued:
                message += " " + _("Le enviaremos la confirmación a su correo.")
            messages.success(request, message)
            return redirect("calculator_credit")
    return _render_credit(request, form)


def _render_credit(request: HttpRequest, form: forms.CreditLeadForm) -> HttpResponse:
    context = {
        "form": form,
        "products": list(form.fields["product"].queryset),
        "recaptcha_site_key": settings.RECAPTCHA_SITE_KEY,
        "recaptcha_action": CREDIT_RECAPTCHA_ACTION,
    }
    return render(request, "credits/calculator_credit.html", context)


def _page_context() -> dict[str, Any]:
    return {
        "recaptcha_site_key": settings.RECAPTCHA_SITE_KEY,
        "recaptcha_action": RECAPTCHA_ACTION,
        "takes_credit_leads": services.receives_credit_leads(),
    }


def _render_page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    return render(request, "credits/calculator.html", {**context, **_page_context()})


def _unprefixed(data: Any, prefix: str) -> dict[str, str]:
    """Return the `prefix-` fields of a form submission without their prefix."""
    start = f"{prefix}-"
    return {key.removeprefix(start): data[key] for key in data if key.startswith(start)}


def _calculator_url(form: forms.CalculatorForm) -> str:
    url = reverse("calculator")
    if not form.is_valid():
        return url
    return f"{url}?{urlencode({name: form.data[name] for name in form.fields})}"


def _money(amount: Decimal) -> str:
    return number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)


def _simulation(form: forms.CalculatorForm) -> dict[str, Any]:
    """Return the figures the prospect was looking at, as JSON-ready strings (or nothing)."""
    if not form.is_valid():
        return {}
    data = form.cleaned_data
    schemes = compare(
        amount=data["amount"],
        annual_rate=data["annual_rate"],
        term=data["term"],
        frequency=data["frequency"],
    )
    return {
        "amount": f"{data['amount']:.2f}",
        "annual_rate": f"{data['annual_rate']:f}",
        "term": data["term"],
        "frequency": data["frequency"],
        "schemes": {
            s.method.value: {
                "first_installment": f"{s.first_installment:.2f}",
                "total_interest": f"{s.schedule.total_interest:.2f}",
                "total": f"{s.schedule.total:.2f}",
            }
            for s in schemes
        },
    }


def _simulation_summary(simulation: dict[str, Any]) -> dict[str, str]:
    """Return the simulation as the flat, readable pairs the customer timeline shows."""
    if not simulation:
        return {}
    frequency = schedule.Frequency(simulation["frequency"]).label
    return {
        _("monto simulado"): f"S/ {_money(Decimal(simulation['amount']))}",
        _("tasa anual"): f"{simulation['annual_rate']} %",
        _("plazo"): ngettext(
            "%(term)s cuota (%(frequency)s)",
            "%(term)s cuotas (%(frequency)s)",
            int(simulation["term"]),
        )
        % {"term": simulation["term"], "frequency": str(frequency).lower()},
    }
