"""The Flujos and Efectividad screens of Estrategias: the flows, their steps and runs, and
what their messages achieved.

Every change goes through `flows`' services; every flow through its access helper
(`flows.flow_for`). Turning a flow on or off, running it now and deleting it first answer
a confirmation page and act only on its POST. "Ejecutar hoy" queues the run in Celery:
the screen says it is queued, never that anything was sent.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from collections_app import screens
from collections_app.models import Flow, FlowRun, FlowStep
from collections_app.strategies import effectiveness, flow_forms, flows, segments, views
from crm import messages as customer_messages
from lib import lists

PAGE_SIZE = lists.LIST_PAGE_SIZE
RUNS_PAGE_SIZE = 25
VIEW_FLOW = "collections_app.view_flow"


_confirm = screens.confirm
RUNNING_GOES_ON = gettext_lazy(
    "La ejecución de hoy ya está en curso y termina de enviar sus mensajes."
)


def _is_running_today(flow: Flow) -> bool:
    """Whether a run of today is sending: a stalled one (its worker died) is not."""
    now = timezone.now()
    return (
        FlowRun.objects.filter(
            step__flow=flow, run_on=timezone.localdate(now), status=FlowRun.Status.RUNNING
        )
        .exclude(flows.stale(now))
        .exists()
    )


def _detail_url(flow: Flow) -> str:
    return reverse("collections_app:flow_detail", args=[flow.pk])


def _chips(flow: Flow) -> list[tuple[str, FlowStep]]:
    """Return a flow's steps with their day written for the screen ("−3", "0", "+5")."""
    return [(flows.offset_label(step.day_offset), step) for step in flow.steps.all()]


def _steps_text(flow: Flow) -> str:
    """Write a flow's steps in a line: "−3 SMS, 0 WhatsApp, +5 Correo"."""
    return ", ".join(
        f"{flows.offset_label(step.day_offset)} {step.template.get_channel_display()}"
        for step in flow.steps.all()
    )


def _unsent_channels(flow: Flow) -> list[str]:
    """Say, for each channel of the flow's steps that has no provider, that its messages
    will be recorded and not sent ("SMS no configurado: ... (pasos −3, +5)")."""
    configured: dict[str, bool] = {}
    labels: dict[str, str] = {}
    steps: dict[str, list[str]] = {}
    for step in flow.steps.select_related("template"):
        channel = step.template.channel
        if channel not in configured:
            configured[channel] = customer_messages.is_delivered(channel)
            labels[channel] = step.template.get_channel_display()
        if not configured[channel]:
            steps.setdefault(channel, []).append(flows.offset_label(step.day_offset))
    return [
        ngettext(
            "%(channel)s no configurado: los mensajes se registrarán sin enviarse "
            "(paso %(steps)s).",
            "%(channel)s no configurado: los mensajes se registrarán sin enviarse "
            "(pasos %(steps)s).",
            len(days),
        )
        % {"channel": labels[channel], "steps": ", ".join(days)}
        for channel, days in steps.items()
    ]


def _warn_unsent(request: HttpRequest, flow: Flow) -> None:
    for text in _unsent_channels(flow):
        messages.warning(request, text)


# --- The list ------------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_FLOW, raise_exception=True)
def flow_list(request: HttpRequest) -> HttpResponse:
    """The flows by name, each with its segment, its steps and its last day's figures."""
    form = flow_forms.FlowFilterForm(request.GET)
    filters = form.filters()
    rows = flows.flow_list(**filters) if filters is not None else Flow.objects.none()
    page = lists.CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    last_runs = flows.last_runs(flow.pk for flow in page.object_list)
    items = [(flow, _chips(flow), last_runs.get(flow.pk)) for flow in page.object_list]
    return lists.render_page_or_fragment(
        request,
        page_template="collections_app/strategies/flow_list.html",
        fragment_template="collections_app/strategies/partials/flow_results.html",
        context={"form": form, "page": page, "items": items},
    )


# --- Creating and editing ------------------------------------------------------------------


@permission_required("collections_app.add_flow", raise_exception=True)
def flow_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@permission_required("collections_app.change_flow", raise_exception=True)
def flow_update(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, flows.flow_for(request.user, pk))


def _edit(request: HttpRequest, flow: Flow | None) -> HttpResponse:
    """Edit a flow and its steps together; both must be valid to save either."""
    flow_name = flow.name if flow else ""  # the form writes what was typed on it
    data = request.POST if request.method == "POST" else None
    form = flow_forms.FlowForm(data, instance=flow)
    formset = flow_forms.step_formset(data, flow=flow)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        kept, removed = formset.steps()
        try:
            saved = flows.save_flow(
                flow=flow,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                segment=form.cleaned_data["segment"],
                steps=kept,
                removed=removed,
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            text = _("Flujo «%(name)s» guardado.") % {"name": saved.name}
            if not saved.is_active:
                text += " " + _("Está inactivo: actívelo para que empiece a enviar.")
            messages.success(request, text)
            return redirect(_detail_url(saved))
    if flow is None and request.method == "POST" and "name" in form.errors:
        twin = flows.just_created(request.user, request.POST.get("name", ""))
        if twin is not None:
            messages.info(
                request,
                _(
                    "El flujo «%(name)s» ya se creó hace un momento: no se creó otro. Para otro "
                    "flujo, use otro nombre."
                )
                % {"name": twin.name},
            )
            return redirect(_detail_url(twin))
    return render(
        request,
        "collections_app/strategies/flow_form.html",
        {"form": form, "formset": formset, "flow": flow, "flow_name": flow_name},
    )


# --- One flow ------------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_FLOW, raise_exception=True)
def flow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A flow's steps and its run history, the latest day first (25 runs a page)."""
    flow = flows.flow_for(request.user, pk)
    page = lists.CappedPaginator(flows.flow_runs(flow), RUNS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    runs = [(run, flows.offset_label(run.step.day_offset)) for run in page.object_list]
    return lists.render_page_or_fragment(
        request,
        page_template="collections_app/strategies/flow_detail.html",
        fragment_template="collections_app/strategies/partials/flow_runs.html",
        context={
            "flow": flow,
            "chips": _chips(flow),
            "page": page,
            "runs": runs,
            "ran_today": FlowRun.objects.filter(
                step__flow=flow, run_on=timezone.localdate()
            ).exists(),
            "unsent_channels": _unsent_channels(flow),
        },
    )


@require_POST
@permission_required("collections_app.change_flow", raise_exception=True)
def flow_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn a flow on or off, after a confirmation page that says what it means."""
    flow = flows.flow_for(request.user, pk)
    form = flow_forms.ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Elija activar o desactivar el flujo."))
        return redirect(_detail_url(flow))
    is_active = form.cleaned_data["active"]
    if not flow_forms.is_confirmed(request.POST):
        if is_active:
            count = segments.count(flow.segment, timezone.localdate())
            lines = [
                _(
                    "Cada día a las 09:00 se enviarán sus pasos (%(steps)s) a los clientes del "
                    "segmento «%(segment)s» cuya cuota vence en esos días."
                )
                % {"steps": _steps_text(flow) or "—", "segment": flow.segment.name},
                ngettext(
                    "Hoy el segmento tiene %(count)s cliente.",
                    "Hoy el segmento tiene %(count)s clientes.",
                    count,
                )
                % {"count": count},
                _(
                    "Cada cliente recibe como máximo los mensajes del día que fija la "
                    "política de mensajes, y nunca en el horario de silencio."
                ),
                *_unsent_channels(flow),
            ]
            title, button = _("¿Activar el flujo «%(name)s»?"), _("Sí, activar")
        else:
            lines = [
                _(
                    "El flujo no volverá a ejecutarse, ni a las 09:00 ni con «Ejecutar hoy»; "
                    "su historial queda."
                )
            ]
            if _is_running_today(flow):
                lines.append(RUNNING_GOES_ON)
            title, button = _("¿Desactivar el flujo «%(name)s»?"), _("Sí, desactivar")
        return _confirm(
            request,
            title=title % {"name": flow.name},
            lines=lines,
            button=button,
            cancel_url=_detail_url(flow),
            is_danger=not is_active,
        )
    try:
        flows.set_active(flow=flow, is_active=is_active, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if is_active:
            messages.success(request, _("Flujo activado: queda programado cada día a las 09:00."))
            _warn_unsent(request, flow)
        elif _is_running_today(flow):
            # A run under way sends its remaining batches: say so, not "no more messages".
            messages.success(request, _("Flujo desactivado.") + " " + RUNNING_GOES_ON)
        else:
            messages.success(request, _("Flujo desactivado: no enviará más mensajes."))
    return redirect(_detail_url(flow))


@require_POST
@permission_required("collections_app.change_flow", raise_exception=True)
def flow_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue today's run of the flow in Celery ("Ejecutar hoy"), after a confirmation."""
    flow = flows.flow_for(request.user, pk)
    if not flow_forms.is_confirmed(request.POST):
        return _confirm(
            request,
            title=_("¿Ejecutar hoy el flujo «%(name)s»?") % {"name": flow.name},
            lines=[
                _(
                    "Se pondrá en cola la ejecución de hoy de sus pasos (%(steps)s) para el "
                    "segmento «%(segment)s»."
                )
                % {"steps": _steps_text(flow) or "—", "segment": flow.segment.name},
                _(
                    "Los pasos que ya se ejecutaron hoy no vuelven a enviar: cada cliente "
                    "recibe cada paso una sola vez por día."
                ),
                *_unsent_channels(flow),
            ],
            button=_("Sí, poner en cola"),
            cancel_url=_detail_url(flow),
            is_danger=False,
        )
    try:
        flows.request_run(flow=flow)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _(
                "Ejecución de hoy en cola: los mensajes se preparan en segundo plano. Vuelva "
                "a esta página en unos minutos para ver las cifras."
            ),
        )
        _warn_unsent(request, flow)
    return redirect(_detail_url(flow))


@require_POST
@permission_required("collections_app.delete_flow", raise_exception=True)
def flow_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a flow with its steps and run history, after a confirmation page."""
    try:
        flow = flows.flow_for(request.user, pk)
    except Http404:
        return views.deleted_a_moment_ago(
            request,
            f"flow:{pk}",
            said=_("El flujo «%(name)s» ya se eliminó hace un momento."),
            done_url=reverse("collections_app:flow_list"),
        )
    if not flow_forms.is_confirmed(request.POST):
        runs = FlowRun.objects.filter(step__flow=flow).count()
        steps = len(flow.steps.all())
        lines = [
            _("Se eliminarán: %(steps)s y el historial de %(runs)s.")
            % {
                "steps": ngettext("%(n)s paso", "%(n)s pasos", steps) % {"n": steps},
                "runs": ngettext("%(n)s ejecución", "%(n)s ejecuciones", runs) % {"n": runs},
            },
            _(
                "Los mensajes ya enviados quedan en las conversaciones y en el historial de "
                "cada cliente."
            ),
        ]
        if flow.is_active:
            lines.insert(0, _("El flujo está activo: dejará de enviar mensajes."))
        return _confirm(
            request,
            title=_("¿Eliminar el flujo «%(name)s»?") % {"name": flow.name},
            lines=lines,
            button=_("Sí, eliminar"),
            cancel_url=_detail_url(flow),
        )
    flows.delete_flow(flow=flow, actor=request.user)
    views.remember_deleted(request, f"flow:{pk}", flow.name)
    messages.success(request, _("Flujo eliminado: %(name)s.") % {"name": flow.name})
    return redirect("collections_app:flow_list")


# --- Effectiveness -------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_FLOW, raise_exception=True)
def effectiveness_page(request: HttpRequest) -> HttpResponse:
    """What the flows' messages achieved in a period: per flow and step, agent and channel."""
    form = flow_forms.EffectivenessForm(request.GET)
    since, until, days = form.period()
    kept = effectiveness.kept_report(
        since=since, until=until, days=days, fresh=request.GET.get("recalcular") == "1"
    )
    again = request.GET.copy()
    again["recalcular"] = "1"
    return render(
        request,
        "collections_app/strategies/effectiveness.html",
        {
            "form": form,
            "report": kept.value,
            "chart": kept.value.chart,
            "computed_at": kept.computed_at,
            "refresh_minutes": effectiveness.REFRESH_SECONDS // 60,
            "recompute_query": again.urlencode(),
        },
    )
