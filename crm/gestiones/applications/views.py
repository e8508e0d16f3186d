"""The credit-application screens: leads to confirm, an advisor's walk-in application, the
application's terms, the loans of a gestión (*cuentas por gestión*), and the card of a
loan's gestiones on the loan page."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from crm import display
from crm import selectors as crm_selectors
from crm.gestiones import confirmation
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.applications import forms, selectors, services
from crm.gestiones.models import CreditLead, Gestion
from lib import people
from lib.confirmation import is_confirmed

# How many decided leads the list shows under the ones to confirm.
RECENT_DECISIONS = 20
PAGE_SIZE = 25


@require_GET
@permission_required("gestiones.view_creditlead", raise_exception=True)
def lead_list(request: HttpRequest) -> HttpResponse:
    """The leads whose document is a customer's with other data: confirm or discard each."""
    # A NUL cannot reach PostgreSQL (psycopg refuses the parameter: a 500); it finds nothing.
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    source = request.GET.get("source", "")
    leads = selectors.leads_to_confirm(q=q, source=source)
    page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "gestiones/credit_lead_list.html",
        {
            "page": page,
            "q": q,
            "source": source,
            "sources": CreditLead.Source.choices,
            "decided": list(selectors.recent_decisions()[:RECENT_DECISIONS]),
        },
    )


@require_GET
@permission_required("gestiones.view_creditlead", raise_exception=True)
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    return _render_lead(request, lead, forms.DiscardForm())


@require_POST
@permission_required("gestiones.change_creditlead", raise_exception=True)
def lead_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """It is that customer: open the application for them, their identity untouched."""
    lead = selectors.lead_for(request.user, pk)
    try:
        intake = services.confirm_lead(lead=lead, actor=request.user)
    except ValidationError as exc:
        decided = selectors.just_decided(lead, request.user)
        if decided is not None and decided.status == CreditLead.Status.CONVERTED:
            # Confirmed twice: the first opened the application, the second is that one.
            gestion = decided.application.gestion
            messages.info(
                request,
                _(
                    "Este lead ya se confirmó hace un momento: su solicitud está en la gestión "
                    "#%(id)s; no se abrió otra."
                )
                % {"id": gestion.pk},
            )
            return _to_gestion_or(request, gestion, "gestiones:credit_leads")
        messages.error(request, " ".join(exc.messages))
        return redirect("gestiones:credit_lead", pk=lead.pk)
    gestion = intake.application.gestion
    message = _("Lead #%(lead)s confirmado: solicitud abierta en la gestión #%(id)s.") % {
        "lead": lead.pk,
        "id": gestion.pk,
    }
    messages.success(request, f"{message} {_confirmation_said(intake)}".strip())
    return _to_gestion_or(request, gestion, "gestiones:credit_leads")


@require_POST
@permission_required("gestiones.change_creditlead", raise_exception=True)
def lead_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Discard a lead, with its reason, from its confirmation page: a POST without the
    confirm field shows that page, discarding nothing."""
    lead = selectors.lead_for(request.user, pk)
    form = forms.DiscardForm(request.POST)
    pending = lead.status == CreditLead.Status.TO_CONFIRM
    if form.is_valid() and pending and not is_confirmed(request.POST):
        return _confirm_discard(request, lead, form)
    if form.is_valid():
        try:
            services.discard_lead(lead=lead, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                decided = selectors.just_decided(lead, request.user)
                if decided is not None and decided.status == CreditLead.Status.DISCARDED:
                    messages.info(
                        request,
                        _("El lead #%(id)s ya se descartó hace un momento.") % {"id": lead.pk},
                    )
                    return redirect("gestiones:credit_leads")
                # Decided meanwhile: the page shows no form to carry the error, so say it.
                messages.error(request, " ".join(exc.messages))
                return redirect("gestiones:credit_lead", pk=lead.pk)
            form.add_error(None, exc)
        else:
            messages.success(request, _("Lead #%(id)s descartado.") % {"id": lead.pk})
            return redirect("gestiones:credit_leads")
    lead.refresh_from_db()
    return _render_lead(request, lead, form)


def _confirm_discard(
    request: HttpRequest, lead: CreditLead, form: forms.DiscardForm
) -> HttpResponse:
    """Show what discarding the lead does, with its reason still editable."""
    asked, product = selectors.lead_request(lead)
    figures = []
    if lead.customer:
        figures.append((_("Cliente registrado"), lead.customer.full_name))
    figures.append((_("Origen"), lead.get_source_display()))
    if product is not None:
        figures.append(
            (
                _("Pide"),
                ngettext(
                    "%(amount)s en %(n)s cuota · %(product)s",
                    "%(amount)s en %(n)s cuotas · %(product)s",
                    asked.term,
                )
                % {
                    "amount": display.money_on_screen(asked.amount, product.currency),
                    "n": asked.term,
                    "product": product.name,
                },
            )
        )
    lines = [_("No se abre ninguna solicitud de crédito con este lead.")]
    if lead.customer:
        lines.append(_("El motivo queda en el historial del cliente y en la página del lead."))
    return confirmation.confirmation_page(
        request,
        title=_("¿Descartar el lead #%(id)s?") % {"id": lead.pk},
        subtitle=_("Lead de crédito #%(id)s") % {"id": lead.pk},
        step=_("Descartar"),
        breadcrumb=[
            (_("Leads de crédito"), reverse("gestiones:credit_leads")),
            (f"#{lead.pk}", reverse("gestiones:credit_lead", args=[lead.pk])),
        ],
        figures=figures,
        lines=lines,
        warning=_("Si se descarta por error, se reabre desde la página del lead."),
        button=_("Sí, descartar el lead"),
        hidden=[],
        fields=[form["reason"]],
        cancel_url=reverse("gestiones:credit_lead", args=[lead.pk]),
    )


@require_POST
@permission_required("gestiones.change_creditlead", raise_exception=True)
def lead_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """Put a lead discarded by mistake back to confirm, with its reason, from its
    confirmation page: a POST without the confirm field shows that page, changing nothing."""
    lead = selectors.lead_for(request.user, pk)
    if lead.status != CreditLead.Status.DISCARDED:
        messages.info(
            request,
            _("El lead #%(id)s está «%(status)s»: no hay nada que reabrir.")
            % {"id": lead.pk, "status": lead.get_status_display()},
        )
        return redirect("gestiones:credit_lead", pk=lead.pk)
    form = forms.ReopenForm(request.POST)
    if form.is_valid() and is_confirmed(request.POST):
        try:
            services.reopen_lead(lead=lead, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                # Reopened meanwhile (another tab), or its customer is gone.
                messages.error(request, " ".join(exc.messages))
                return redirect("gestiones:credit_lead", pk=lead.pk)
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(
                request,
                _("Lead #%(id)s reabierto: vuelve a estar por confirmar.") % {"id": lead.pk},
            )
            return redirect("gestiones:credit_lead", pk=lead.pk)
    return _confirm_reopen(request, lead, form)


def _confirm_reopen(request: HttpRequest, lead: CreditLead, form: forms.ReopenForm) -> HttpResponse:
    """Show what reopening the lead does, with the reason's field."""
    figures = []
    if lead.customer:
        figures.append((_("Cliente registrado"), lead.customer.full_name))
    if lead.decided_at:
        figures.append(
            (
                _("Descartado"),
                _("%(when)s por %(who)s")
                % {
                    "when": timezone.localtime(lead.decided_at).strftime("%d/%m/%Y %H:%M"),
                    "who": people.display_name(lead.decided_by) if lead.decided_by_id else "—",
                },
            )
        )
    figures.append((_("Motivo del descarte"), selectors.discard_reason(lead) or "—"))
    return confirmation.confirmation_page(
        request,
        title=_("¿Reabrir el lead #%(id)s?") % {"id": lead.pk},
        subtitle=_("Lead de crédito #%(id)s") % {"id": lead.pk},
        step=_("Reabrir"),
        breadcrumb=[
            (_("Leads de crédito"), reverse("gestiones:credit_leads")),
            (f"#{lead.pk}", reverse("gestiones:credit_lead", args=[lead.pk])),
        ],
        figures=figures,
        lines=[
            _("Vuelve a estar por confirmar: alguien decide otra vez si es este cliente."),
            _("El descarte y este motivo quedan en el historial del cliente."),
        ],
        warning="",
        button=_("Sí, reabrir el lead"),
        hidden=[],
        fields=[form["reason"]],
        cancel_url=reverse("gestiones:credit_lead", args=[lead.pk]),
        danger=False,
    )


def _render_lead(request: HttpRequest, lead: CreditLead, discard_form) -> HttpResponse:
    asked, product = selectors.lead_request(lead)
    return render(
        request,
        "gestiones/credit_lead_detail.html",
        {
            "lead": lead,
            "rows": selectors.lead_comparison(lead),
            "asked": asked,
            "product": product,
            "discard_reason": selectors.discard_reason(lead),
            "discard_form": discard_form,
            "may_decide": request.user.has_perm("gestiones.change_creditlead")
            and lead.status == CreditLead.Status.TO_CONFIRM,
            "may_reopen": request.user.has_perm("gestiones.change_creditlead")
            and lead.status == CreditLead.Status.DISCARDED
            and lead.customer_id is not None,
            "reopen_form": forms.ReopenForm(),
        },
    )


@permission_required("gestiones.add_creditapplication", raise_exception=True)
def application_create(request: HttpRequest) -> HttpResponse:
    """An advisor types a walk-in's credit application; `?customer=<id>` starts from them."""
    if request.method == "POST":
        form = forms.WalkInForm(request.POST)
        if form.is_valid():
            try:
                intake = services.receive_lead(
                    source=services.Source.WALK_IN,
                    data=form.lead_data(),
                    received_at=timezone.now(),
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                return _after_walk_in(request, intake)
    else:
        query = forms.CustomerQueryForm(request.GET)
        customer_id = query.cleaned_data["customer"] if query.is_valid() else None
        customer = crm_selectors.customer_for(request.user, customer_id) if customer_id else None
        form = forms.WalkInForm(initial=forms.WalkInForm.initial_for(customer))
    return render(request, "gestiones/application_form.html", {"form": form, "is_new": True})


def _after_walk_in(request: HttpRequest, intake: services.Intake) -> HttpResponse:
    lead = intake.lead
    if intake.is_to_confirm:
        messages.warning(
            request,
            _(
                "El documento es de un cliente registrado con otros datos: confirme que es la "
                "misma persona (lead #%(id)s) o descarte la solicitud."
            )
            % {"id": lead.pk},
        )
        return redirect("gestiones:credit_lead", pk=lead.pk)
    gestion = intake.application.gestion
    if intake.is_repeated:
        messages.info(
            request,
            _("Esta solicitud ya se había registrado (gestión #%(id)s).") % {"id": gestion.pk},
        )
    else:
        message = _("Solicitud de crédito abierta: gestión #%(id)s.") % {"id": gestion.pk}
        message += " " + _confirmation_said(intake)
        messages.success(request, message)
    return _to_gestion_or(request, gestion, "gestiones:my_work")


def _confirmation_said(intake: services.Intake) -> str:
    """Say what became of the applicant's confirmation: queued, or not sent and why."""
    confirmation = intake.confirmation
    if confirmation is None:
        return ""
    if confirmation.is_queued:
        return _("La confirmación al cliente está en cola para enviarse por correo.")
    if confirmation.is_opted_out:
        return _("El cliente pidió no ser contactado: no se le envió confirmación.")
    return _("El cliente no tiene correo: no se le envió confirmación.")


@permission_required("gestiones.change_creditapplication", raise_exception=True)
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change what an application not yet approved asks for."""
    gestion = gestion_selectors.gestion_for(request.user, pk)
    application = selectors.application_of(gestion)
    if application is None:
        raise Http404
    if not selectors.can_work(request.user, gestion):
        raise PermissionDenied
    if request.method != "POST" and not selectors.is_editable(gestion, application):
        messages.info(
            request, _("Esta solicitud ya no cambia: la gestión está cerrada o aprobada.")
        )
        return redirect(gestion)
    form = forms.ApplicationForm(request.POST or None, application=application)
    if request.method == "POST" and form.is_valid():
        cancelled_loan = application.loan_id
        try:
            saved = services.update_application(
                application=application, actor=request.user, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            if cancelled_loan and saved.loan_id != cancelled_loan:
                messages.success(
                    request,
                    _(
                        "Solicitud de crédito guardada: como la gestión sigue aprobada, se "
                        "hizo el crédito %(code)s en borrador en lugar del anulado."
                    )
                    % {"code": saved.loan.payment_code},
                )
            else:
                messages.success(request, _("Solicitud de crédito guardada."))
            return redirect(gestion)
    return render(
        request,
        "gestiones/application_form.html",
        {"form": form, "gestion": gestion, "application": application, "is_new": False},
    )


@require_POST
@permission_required("gestiones.change_gestion", raise_exception=True)
def loan_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link one of the customer's loans to the gestión (*cuentas por gestión*)."""
    gestion = gestion_selectors.gestion_for(request.user, pk)
    if not selectors.can_work(request.user, gestion):
        raise PermissionDenied
    form = forms.LinkLoanForm(request.POST, loans=selectors.linkable_loans(gestion))
    if not form.is_valid():
        loan = selectors.customer_loan(gestion, request.POST.get("loan"))
        if loan is not None and gestion.loans.filter(pk=loan.pk).exists():
            # Sent twice (a double click, the back button and send): the first linked it.
            messages.info(
                request,
                _("El crédito %(code)s ya está vinculado a la gestión.")
                % {"code": loan.payment_code},
            )
            return redirect(gestion)
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(gestion)
    loan = form.cleaned_data["loan"]
    try:
        services.link_loan(gestion=gestion, loan=loan, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Crédito %(code)s vinculado a la gestión.") % {"code": loan.payment_code}
        )
    return redirect(gestion)


@require_POST
@permission_required("gestiones.change_gestion", raise_exception=True)
def loan_unlink(request: HttpRequest, pk: int, loan_pk: int) -> HttpResponse:
    gestion = gestion_selectors.gestion_for(request.user, pk)
    if not selectors.can_work(request.user, gestion):
        raise PermissionDenied
    loan = selectors.customer_loan(gestion, loan_pk)
    if loan is None:
        raise Http404
    if not gestion.loans.filter(pk=loan.pk).exists():
        # Sent twice (a double click, the back button and send): the first unlinked it.
        messages.info(
            request,
            _("El crédito %(code)s no está vinculado a la gestión: no hay nada que desvincular.")
            % {"code": loan.payment_code},
        )
        return redirect(gestion)
    try:
        services.unlink_loan(gestion=gestion, loan=loan, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Crédito %(code)s desvinculado de la gestión.") % {"code": loan.payment_code}
        )
    return redirect(gestion)


@require_GET
@permission_required("gestiones.view_gestion", raise_exception=True)
def loan_gestiones(request: HttpRequest, pk: int) -> HttpResponse:
    """The loan page's card of its gestiones and credit application (loaded by HTMX)."""
    loan = selectors.loan_for(request.user, pk)
    gestiones = selectors.loan_gestiones(request.user, loan)
    return render(
        request,
        "gestiones/partials/loan_gestiones.html",
        {
            "loan": loan,
            "gestiones": gestiones,
            "application": selectors.loan_application(loan, gestiones),
        },
    )


def _to_gestion_or(request: HttpRequest, gestion: Gestion, fallback: str) -> HttpResponse:
    """Go to the gestión when the user may see it (another agent's may not be), else `fallback`."""
    if gestion_selectors.visible_gestiones(request.user).filter(pk=gestion.pk).exists():
        return redirect(gestion)
    return redirect(fallback)
