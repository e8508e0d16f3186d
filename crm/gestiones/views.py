"""The gestiones screens: my work, the list and board, a gestión, its follow-ups and data."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from credits.models import Loan
from crm import display
from crm import selectors as crm_selectors
from crm.gestiones import confirmation, dynamic, forms, selectors, services, tables
from crm.gestiones.applications import forms as application_forms
from crm.gestiones.applications import selectors as application_selectors
from crm.gestiones.documents import selectors as document_selectors
from crm.gestiones.models import Gestion, GestionType, Outcome
from crm.gestiones.surveys import selectors as survey_selectors
from crm.gestiones.workload import forms as workload_forms
from crm.gestiones.workload import services as workload_services
from lib import lists, people
from lib.confirmation import CONFIRM_FIELD, is_confirmed

# What configuring a process (its states, actions and fields) takes, in admin.
TYPE_CONFIGURATION = "gestiones.change_gestiontype"


@require_GET
@permission_required("gestiones.view_gestion", raise_exception=True)
def my_work(request: HttpRequest) -> HttpResponse:
    """The agent's open gestiones, late first."""
    return lists.render_list(
        request,
        filterset=forms.MyWorkFilter(request.GET, queryset=selectors.my_work(request.user)),
        table_class=tables.MyWorkTable,
        export_name="mi-trabajo",
        page_template="gestiones/gestion_list.html",
        results_template="gestiones/partials/gestion_results.html",
        extra_context={"list_url_name": "gestiones:my_work", "is_my_work": True},
    )


@require_GET
@permission_required("gestiones.view_gestion", raise_exception=True)
def gestion_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=forms.GestionFilter(request.GET, queryset=selectors.gestion_list(request.user)),
        table_class=tables.GestionTable,
        export_name="gestiones",
        page_template="gestiones/gestion_list.html",
        results_template="gestiones/partials/gestion_results.html",
        extra_context={"list_url_name": "gestiones:list"},
    )


@permission_required("gestiones.add_gestion", raise_exception=True)
def gestion_create(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Open a gestión for a customer; changing the type reloads the form with its fields."""
    customer = crm_selectors.customer_for(request.user, customer_id)
    if request.method == "POST" and "reload" not in request.POST:
        form = forms.GestionForm(request.POST, customer=customer, user=request.user)
        if form.is_valid():
            try:
                gestion, opened = services.open_gestion(
                    customer=customer, actor=request.user, **form.service_kwargs()
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                if opened and gestion.agent_id is None:
                    messages.warning(request, _unassigned_message(gestion))
                elif opened:
                    messages.success(request, _("Gestión #%(id)s abierta.") % {"id": gestion.pk})
                else:
                    messages.info(
                        request,
                        _("Esta gestión ya se abrió hace un momento: es la #%(id)s.")
                        % {"id": gestion.pk},
                    )
                return redirect(gestion)
    else:
        source = request.POST if request.method == "POST" else request.GET
        initial = {
            key: values if key in ("products", "loans") else values[-1]
            for key, values in source.lists()
            if key not in ("reload", "csrfmiddlewaretoken")
        }
        form = forms.GestionForm(initial=initial, customer=customer, user=request.user)
    template = "gestiones/gestion_form.html"
    if request.htmx:
        template += "#gestion-form"
    return render(request, template, {"form": form, "customer": customer})


def _unassigned_message(gestion: Gestion) -> str:
    """Say that a new gestión was left without an agent, and why: its initial state has no
    active agent, or none who may work gestiones (`selectors.why_unassigned`)."""
    return _(
        "Gestión #%(id)s abierta, pero quedó sin gestor: %(why)s. Un administrador asigna "
        "al estado gestores que puedan trabajarla en Administración → Gestiones → Estados; "
        "mientras tanto, un supervisor puede asignarla desde la gestión."
    ) % {"id": gestion.pk, "why": selectors.why_unassigned(gestion.state)}


@require_GET
@permission_required("gestiones.view_gestion", raise_exception=True)
def gestion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gestion = selectors.gestion_page(request.user, pk)
    return render(request, "gestiones/gestion_detail.html", _detail_context(request, gestion))


def _detail_context(
    request: HttpRequest, gestion, follow_up_form=None, reassign_form=None, correction_form=None
):
    """Return what the gestión page shows, with the forms the user may use there."""
    user = request.user
    may_follow_up = selectors.can_follow_up(user, gestion)
    fields = selectors.form_fields(gestion)
    invitation = survey_selectors.invitation_for(gestion)
    # The survey card falls back on `gestion.survey_invitation`: known (even as none), it
    # costs no second query.
    Gestion.survey_invitation.related.set_cached_value(gestion, invitation)
    context = {
        "gestion": gestion,
        "follow_ups": selectors.follow_ups(gestion),
        "data_items": dynamic.display_items(gestion.data, fields),
        "missing_data": [
            f.label
            for f in dynamic.missing_required(gestion.data, fields)
            if f.scope == f.Scope.GESTION
        ],
        "document_templates": document_selectors.templates_for(user, gestion),
        "survey_invitation": invitation,
        "may_follow_up": may_follow_up,
        "may_reassign": user.has_perm("gestiones.reassign_gestion") and gestion.is_open,
        "is_late": gestion.is_late(),
        "products": selectors.product_names(gestion),
        "loans": selectors.loans(gestion),
        "application": application_selectors.application_of(gestion),
        "may_work_application": application_selectors.can_work(user, gestion),
    }
    if context["application"] is not None:
        context["approval_wait"] = application_selectors.approval_wait(context["application"])
    if context["may_work_application"]:
        # Cuentas por gestión: the customer's other loans, to link here.
        context["link_loan_form"] = application_forms.LinkLoanForm(
            loans=application_selectors.linkable_loans(gestion)
        )
    if may_follow_up:
        context["form"] = follow_up_form or forms.FollowUpForm(
            gestion=gestion, actions=selectors.allowed_actions(gestion)
        )
    if context["may_reassign"]:
        context["reassign_form"] = reassign_form or workload_forms.ReassignForm()
    context["may_correct_state"] = selectors.may_correct_state(user)
    if context["may_correct_state"]:
        context["correction_form"] = correction_form or forms.CorrectStateForm(gestion=gestion)
    return context


@permission_required("gestiones.add_followup", raise_exception=True)
def follow_up_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a follow-up (POST), or re-render the form for the chosen action (a POST with
    `reload`, or a GET), keeping what was typed."""
    gestion = selectors.gestion_for(request.user, pk)
    sent = request.method == "POST" and "reload" not in request.POST
    # Closed while the form was open: said on the gestión's page, with what was typed.
    closed_meanwhile = sent and not gestion.is_open and selectors.works_on(request.user, gestion)
    if closed_meanwhile:
        notes = request.POST.get("notes", "")
        recorded = services.just_recorded(gestion, request.user, notes)
        if recorded is not None:
            # The step that closed it, sent twice: it was recorded, not lost.
            messages.info(
                request,
                _(
                    "Este seguimiento ya se registró hace un momento (#%(id)s): la gestión "
                    "quedó en «%(state)s»."
                )
                % {"id": recorded.pk, "state": gestion.state.name},
            )
        else:
            messages.error(request, _closed_meanwhile_message(gestion, notes))
        return redirect(gestion)
    if not selectors.can_follow_up(request.user, gestion):
        raise PermissionDenied
    actions = selectors.allowed_actions(gestion)
    if not sent:
        # The action select asks for its results: the same form, with what was typed as its
        # initial values (unbound, so the fields not filled yet show no errors). Files are
        # not among them: a browser never puts a file back into a file input.
        source = request.POST if request.method == "POST" else request.GET
        initial = {
            key: values[-1]
            for key, values in source.lists()
            if key not in ("reload", "csrfmiddlewaretoken", "files", CONFIRM_FIELD)
        }
        form = forms.FollowUpForm(initial=initial, gestion=gestion, actions=actions)
        if not request.htmx:
            context = _detail_context(request, gestion, follow_up_form=form)
            return render(request, "gestiones/gestion_detail.html", context)
        return render(
            request,
            "gestiones/partials/follow_up_form.html",
            {"gestion": gestion, "form": form},
        )
    form = forms.FollowUpForm(request.POST, request.FILES, gestion=gestion, actions=actions)
    if form.is_valid():
        result = form.cleaned_data["result"]
        closes = selectors.ends_gestion(result)
        if closes and not is_confirmed(request.POST):
            # Closing cannot be undone (and may cancel the application's loan): asked first
            # on a page of its own, which sends the same step again with the confirm field.
            return _confirm_closing(request, gestion, form)
        loan = application_selectors.loan_cancelled_by(gestion, result.to_state) if closes else None
        try:
            follow_up = services.record_follow_up(
                gestion=gestion, actor=request.user, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            message = _("Seguimiento registrado: %(action)s → %(result)s.") % {
                "action": follow_up.action.name,
                "result": follow_up.result.name,
            }
            if follow_up.changed_state:
                message += " " + _("La gestión pasó a «%(state)s».") % {
                    "state": follow_up.state.name
                }
            if (
                loan is not None
                and Loan.objects.filter(pk=loan.pk, status=Loan.Status.CANCELLED).exists()
            ):
                message += " " + _("El crédito %(code)s quedó anulado.") % {
                    "code": loan.payment_code
                }
            messages.success(request, message)
            if not selectors.visible_gestiones(request.user).filter(pk=gestion.pk).exists():
                # Handed to another area's agent: its page is no longer this user's to see.
                messages.info(request, _handed_over_message(gestion))
                return redirect("gestiones:my_work")
            return redirect(gestion)
    elif (
        recorded := services.just_recorded(gestion, request.user, request.POST.get("notes", ""))
    ) and (
        [str(recorded.action_id), str(recorded.result_id)]
        == [request.POST.get("action"), request.POST.get("result")]
    ):
        # The step that moved the gestión, sent twice (a double click on «Aprobado»): its
        # action is no longer offered in the new state, so the form refused it. It was
        # recorded (and an approval drafted its one loan), not lost.
        messages.info(
            request,
            _(
                "Este seguimiento ya se registró hace un momento (#%(id)s): la gestión "
                "quedó en «%(state)s»; no se registró otro."
            )
            % {"id": recorded.pk, "state": gestion.state.name},
        )
        return redirect(gestion)
    return render(
        request,
        "gestiones/gestion_detail.html",
        _detail_context(request, gestion, follow_up_form=form),
    )


def _confirm_closing(
    request: HttpRequest, gestion: Gestion, form: forms.FollowUpForm
) -> HttpResponse:
    """Show what recording a result that ends the gestión does: the state and outcome it
    closes in, whether the customer is told, and the application's loan it cancels. Its form
    sends what was typed again, with the confirm field; files cannot travel in a page, so
    those chosen are asked for again there."""
    data = form.cleaned_data
    result = data["result"]
    state = result.to_state
    values = {
        "id": gestion.pk,
        "state": state.name,
        "outcome": Outcome(state.outcome).label,
    }
    rejects = state.outcome == Outcome.REJECTED
    if rejects:
        title = _("¿Rechazar la gestión #%(id)s?") % values
        button = _("Sí, rechazar la gestión")
    else:
        title = _("¿Cerrar la gestión #%(id)s?") % values
        button = _("Sí, cerrar la gestión")
    figures = [
        (_("Acción"), data["action"].name),
        (_("Resultado"), result.name),
        (_("Estado nuevo"), f"{state.name} ({values['outcome']})"),
    ]
    if data.get("rejection_reason"):
        figures.append((_("Motivo de rechazo"), data["rejection_reason"].name))
    if data.get("amount_approved") is not None:
        figures.append(
            (
                _("Monto aprobado"),
                display.money_on_screen(data["amount_approved"], gestion.currency),
            )
        )
    if data["notes"]:
        figures.append((_("Notas"), data["notes"]))
    lines = [
        _(
            "La gestión #%(id)s pasa a «%(state)s» (%(outcome)s) y queda cerrada: después no "
            "admite más seguimientos."
        )
        % values
    ]
    if selectors.notifies_customer(gestion, result):
        lines.append(_("Se avisa al cliente por correo."))
    loan = application_selectors.loan_cancelled_by(gestion, state)
    if loan is not None:
        lines.append(
            _(
                "El crédito %(code)s (%(status)s) de la solicitud se anula: ya no se podrá "
                "firmar ni desembolsar."
            )
            % {"code": loan.payment_code, "status": loan.get_status_display()}
        )
    files = request.FILES.getlist("files")
    if files:
        lines.append(
            _("Los archivos elegidos no pasan a esta página: adjúntelos de nuevo aquí (%(names)s).")
            % {"names": ", ".join(f.name for f in files)}
        )
    return confirmation.confirmation_page(
        request,
        title=title,
        subtitle=_("%(type)s · %(customer)s")
        % {"type": gestion.gestion_type.name, "customer": gestion.customer.full_name},
        step=_("Confirmar cierre"),
        breadcrumb=[
            (_("Gestiones"), reverse("gestiones:my_work")),
            (f"#{gestion.pk}", gestion.get_absolute_url()),
        ],
        figures=figures,
        lines=lines,
        warning=_(
            "Una gestión cerrada ya no admite seguimientos: solo un supervisor la reabre, "
            "con «Corregir estado». Si no es lo que quería, vuelva al formulario: lo escrito "
            "se conserva."
        ),
        button=button,
        hidden=confirmation.carried(request.POST),
        fields=[form["files"]] if files else [],
        reload_label=_("No, volver al formulario"),
    )


def _closed_meanwhile_message(gestion: Gestion, notes: str) -> str:
    """Say that the gestión closed while the form was open, giving back what was typed."""
    message = _(
        "La gestión #%(id)s está cerrada («%(state)s»): se cerró mientras usted escribía y "
        "no se registró nada."
    ) % {"id": gestion.pk, "state": gestion.state.name}
    notes = " ".join(notes.split())
    if notes:
        message += " " + _("Lo que escribió: «%(notes)s»") % {"notes": notes[:2000]}
    return message


def _handed_over_message(gestion) -> str:
    """Say where a gestión went once its follow-up took it out of the user's sight."""
    gestion = Gestion.objects.select_related("state", "agent").get(pk=gestion.pk)
    values = {
        "id": gestion.pk,
        "state": gestion.state.name,
        "agent": people.display_name(gestion.agent),
    }
    if gestion.agent_id:
        return (
            _(
                "La gestión #%(id)s está ahora en «%(state)s», a cargo de %(agent)s: ya no "
                "aparece en su trabajo."
            )
            % values
        )
    return (
        _(
            "La gestión #%(id)s está ahora en «%(state)s», sin gestor asignado: la "
            "asignará un supervisor."
        )
        % values
    )


@permission_required("gestiones.change_gestion", raise_exception=True)
def gestion_data(request: HttpRequest, pk: int) -> HttpResponse:
    """Complete or correct the gestión's dynamic-form data."""
    gestion = selectors.gestion_for(request.user, pk)
    closed_meanwhile = (
        request.method == "POST"
        and not gestion.is_open
        and selectors.works_on(request.user, gestion)
    )
    if closed_meanwhile:
        messages.error(request, _closed_meanwhile_message(gestion, ""))
        return redirect(gestion)
    if not selectors.can_follow_up(request.user, gestion):
        raise PermissionDenied
    form = forms.GestionDataForm(request.POST or None, gestion=gestion)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_gestion_data(
                gestion=gestion, actor=request.user, data=form.data_for_service()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Datos de la gestión guardados."))
            return redirect(gestion)
    return render(request, "gestiones/gestion_data.html", {"gestion": gestion, "form": form})


@require_POST
@permission_required("gestiones.reassign_gestion", raise_exception=True)
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    gestion = selectors.gestion_for(request.user, pk)
    form = workload_forms.ReassignForm(request.POST)
    if form.is_valid():
        try:
            workload_services.reassign_gestion(
                gestion=gestion,
                agent=form.cleaned_data["agent"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Gestión #%(id)s reasignada a %(agent)s.")
                % {"id": gestion.pk, "agent": people.display_name(form.cleaned_data["agent"])},
            )
            return redirect(gestion)
    return render(
        request,
        "gestiones/gestion_detail.html",
        _detail_context(request, gestion, reassign_form=form),
    )


@require_POST
@permission_required(selectors.SUPERVISE_PERMISSION, raise_exception=True)
def correct_state(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisor moves a gestión, open or closed, to another state of its type to undo a
    mistake: the first POST shows what it does on a page of its own (without JavaScript
    too); only that page's form, with the confirm field, corrects it."""
    gestion = selectors.gestion_for(request.user, pk)
    if "reload" in request.POST:
        # «No, volver a la gestión»: its page, with what was typed (the state shown too, so
        # a change meanwhile is still caught).
        initial = {
            key: values[-1]
            for key, values in request.POST.lists()
            if key not in confirmation.NOT_CARRIED
        }
        form = forms.CorrectStateForm(initial=initial, gestion=gestion)
        return _render_detail(request, gestion, correction_form=form)
    form = forms.CorrectStateForm(request.POST, gestion=gestion)
    if not form.is_valid():
        return _render_detail(request, gestion, correction_form=form)
    shown = form.cleaned_data["shown_state"]
    if shown.pk != gestion.state_id:
        messages.error(request, services.stale_correction(gestion, shown))
        return redirect(gestion)
    if not is_confirmed(request.POST):
        return _confirm_correction(request, gestion, form)
    loan = application_selectors.loan_cancelled_by(gestion, form.cleaned_data["state"])
    was_open = gestion.is_open
    try:
        follow_up = services.correct_state(
            gestion=gestion, actor=request.user, **form.service_kwargs()
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            # Changed meanwhile (another tab), or its customer was merged: nothing corrected.
            messages.error(request, " ".join(exc.messages))
            return redirect(gestion)
        form.add_service_error(exc)
        return _render_detail(request, gestion, correction_form=form)
    message = _("Estado de la gestión #%(id)s corregido: «%(from)s» → «%(to)s».") % {
        "id": gestion.pk,
        "from": follow_up.from_state.name,
        "to": follow_up.state.name,
    }
    if not was_open and not follow_up.state.is_closing:
        message += " " + _("La gestión está abierta de nuevo.")
    if loan is not None and Loan.objects.filter(pk=loan.pk, status=Loan.Status.CANCELLED).exists():
        message += " " + _("El crédito %(code)s quedó anulado.") % {"code": loan.payment_code}
    messages.success(request, message)
    if not selectors.visible_gestiones(request.user).filter(pk=gestion.pk).exists():
        # Supervised through its former state only: its page is no longer this user's.
        messages.info(request, _handed_over_message(gestion))
        return redirect("gestiones:list")
    return redirect(gestion)


def _render_detail(request: HttpRequest, gestion: Gestion, **forms_shown) -> HttpResponse:
    return render(
        request, "gestiones/gestion_detail.html", _detail_context(request, gestion, **forms_shown)
    )


def _confirm_correction(
    request: HttpRequest, gestion: Gestion, form: forms.CorrectStateForm
) -> HttpResponse:
    """Show what correcting the state does: from and to which state, the outcome it gets,
    whether a closed gestión reopens and its new due date, that the customer is not told,
    and what happens to a credit application's loan."""
    data = form.cleaned_data
    state = data["state"]
    now = timezone.now()
    values = {
        "id": gestion.pk,
        "from": gestion.state.name,
        "to": state.name,
        "outcome": Outcome(state.outcome).label,
    }
    figures = [
        (_("Estado actual"), f"{gestion.state.name} ({Outcome(gestion.outcome).label})"),
        (_("Estado correcto"), f"{state.name} ({values['outcome']})"),
    ]
    if data.get("rejection_reason"):
        figures.append((_("Motivo de rechazo"), data["rejection_reason"].name))
    figures.append((_("Motivo de la corrección"), data["reason"]))
    lines = [
        _("La gestión #%(id)s pasa de «%(from)s» a «%(to)s» y queda como «%(outcome)s».") % values
    ]
    if state.is_closing:
        lines.append(
            _(
                "Queda cerrada: no admite más seguimientos (si hiciera falta, se corrige otra "
                "vez desde su página). No se envía la encuesta de cierre."
            )
        )
    else:
        if not gestion.is_open:
            lines.append(
                _(
                    "Estaba cerrada: se reabre (se borra su fecha de cierre) y vuelve al "
                    "trabajo de su gestor y a la carga de trabajo."
                )
            )
        due = services.due_at_for(
            state, entered_at=now, is_time_controlled=gestion.is_time_controlled
        )
        if due is not None:
            lines.append(
                _("Su vencimiento se calcula de nuevo con el tiempo de «%(to)s»: %(due)s.")
                % {**values, "due": timezone.localtime(due).strftime("%d/%m/%Y %H:%M")}
            )
        else:
            lines.append(_("Queda sin vencimiento: «%(to)s» no tiene tiempo límite.") % values)
    lines.append(_("No se avisa al cliente: una corrección no le envía ningún mensaje."))
    lines += _correction_loan_lines(gestion, state)
    lines.append(_("El cambio, con su motivo, queda en el historial de la gestión y del cliente."))
    return confirmation.confirmation_page(
        request,
        title=_("¿Corregir el estado de la gestión #%(id)s?") % values,
        subtitle=_("%(type)s · %(customer)s")
        % {"type": gestion.gestion_type.name, "customer": gestion.customer.full_name},
        step=_("Corregir estado"),
        breadcrumb=[
            (_("Gestiones"), reverse("gestiones:my_work")),
            (f"#{gestion.pk}", gestion.get_absolute_url()),
        ],
        figures=figures,
        lines=lines,
        warning="",
        button=_("Sí, corregir el estado"),
        hidden=confirmation.carried(request.POST),
        reload_label=_("No, volver a la gestión"),
        danger=False,
    )


def _correction_loan_lines(gestion: Gestion, state) -> list[str]:
    """Say what a correction to `state` does to the credit application's loan: cancels the
    one still waiting when it closes (as a close does), and otherwise leaves it as it is."""
    application = application_selectors.application_of(gestion)
    loan = application.loan if application is not None else None
    if loan is None:
        return []
    values = {"code": loan.payment_code, "status": loan.get_status_display(), "to": state.name}
    if application_selectors.loan_cancelled_by(gestion, state) is not None:
        return [
            _(
                "El crédito %(code)s (%(status)s) de la solicitud se anula: ya no se podrá "
                "firmar ni desembolsar."
            )
            % values
        ]
    if loan.status != Loan.Status.CANCELLED:
        return [
            _(
                "El crédito %(code)s (%(status)s) de la solicitud sigue como está: la "
                "corrección no lo cambia. Si ya no corresponde, anúlelo desde su página."
            )
            % values
        ]
    if state.is_closing:
        return [_("El crédito %(code)s de la solicitud sigue anulado.") % values]
    if state.is_approval:
        return [
            _(
                "El crédito %(code)s, anulado, sigue anulado: la corrección no hace un "
                "crédito nuevo. Al guardar la solicitud («Editar» en su tarjeta) se hace un "
                "nuevo crédito en borrador con lo que pida."
            )
            % values
        ]
    return [
        _(
            "El crédito %(code)s, anulado, sigue anulado: la solicitud vuelve a poder "
            "modificarse, y al aprobarla se hace un crédito nuevo."
        )
        % values
    ]


@require_GET
@permission_required("gestiones.view_gestion", raise_exception=True)
def board(request: HttpRequest) -> HttpResponse:
    """Columns by state for one process: counts, late counts and the first cards."""
    types = list(GestionType.objects.filter(is_active=True))
    chosen = None
    if request.GET.get("tipo"):
        chosen = next((t for t in types if str(t.pk) == request.GET["tipo"]), None)
    chosen = chosen or (types[0] if types else None)
    queryset = selectors.visible_gestiones(request.user)
    if request.GET.get("mias") and request.user.has_perm("gestiones.view_all_gestiones"):
        queryset = queryset.filter(agent=request.user)
    columns = selectors.board(queryset, chosen) if chosen else []
    context = {
        "types": types,
        "chosen": chosen,
        "columns": columns,
        "only_mine": "mias" in request.GET,
    }
    if chosen is None:
        # Nothing to show until someone configures a process: say who can.
        context["can_configure"] = request.user.is_staff and request.user.has_perm(
            TYPE_CONFIGURATION
        )
        context["configurers"] = selectors.admin_configurers(TYPE_CONFIGURATION)
    return render(request, "gestiones/board.html", context)


@require_GET
@permission_required("gestiones.view_gestion", raise_exception=True)
def customer_gestiones(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The customer page's card of gestiones (loaded by HTMX from the CRM's 360 page)."""
    customer = crm_selectors.customer_for(request.user, customer_id)
    rows = selectors.customer_gestiones(request.user, customer.pk)
    return render(
        request,
        "gestiones/partials/customer_gestiones.html",
        {"customer": customer, "gestiones": rows[:10], "total": rows.count()},
    )
