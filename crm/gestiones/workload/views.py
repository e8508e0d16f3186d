"""The workload screen and reassignment, for supervisors."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import GestionType, Outcome
from crm.gestiones.workload import forms, selectors
from crm.gestiones.workload import services as workload_services
from lib import confirmation, people
from lib.lookups import whole_number


@permission_required("gestiones.reassign_gestion", raise_exception=True)
def workload(request: HttpRequest) -> HttpResponse:
    """The supervisor's screen: workload per state and agent, and bulk reassignment."""
    types = list(GestionType.objects.all())
    chosen = next((t for t in types if str(t.pk) == request.GET.get("tipo", "")), None)
    from_agent = request.GET.get("gestor", "")
    open_rows = gestion_selectors.gestion_list(request.user).filter(outcome=Outcome.OPEN)
    if chosen:
        open_rows = open_rows.filter(gestion_type=chosen)
    agent_id = whole_number(from_agent)
    if from_agent == "none":
        open_rows = open_rows.filter(agent__isnull=True)
    elif agent_id is not None:
        open_rows = open_rows.filter(agent_id=agent_id)
    bulk_form = forms.BulkReassignForm(
        request.POST or None, open_of_agent=open_rows if agent_id is not None else None
    )
    if request.method == "POST" and bulk_form.is_valid():
        chosen_rows = bulk_form.chosen()
        marked = len(chosen_rows)
        try:
            moved = workload_services.reassign_many(
                gestiones=chosen_rows,
                agent=bulk_form.cleaned_data["agent"],
                actor=request.user,
                reason=bulk_form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            bulk_form.add_error(None, exc)
        else:
            agent = bulk_form.cleaned_data["agent"]
            if bulk_form.cleaned_data["all_of_agent"]:
                _say_all_reassigned(
                    request,
                    moved=moved,
                    expected=bulk_form.cleaned_data["expected"],
                    left=open_rows.count(),
                    agent=people.display_name(agent),
                )
                return redirect(request.get_full_path())
            if (
                not moved
                and selectors.reassigned_a_moment_ago(chosen_rows, agent=agent, actor=request.user)
                == marked
            ):
                # Sent twice: the first send moved them all; this one had nothing to do.
                messages.info(
                    request,
                    ngettext(
                        "La gestión marcada ya se reasignó a %(agent)s hace un momento; no "
                        "cambió nada más.",
                        "Las %(n)s gestiones marcadas ya se reasignaron a %(agent)s hace un "
                        "momento; no cambió nada más.",
                        marked,
                    )
                    % {"n": marked, "agent": people.display_name(agent)},
                )
                return redirect(request.get_full_path())
            _say_reassigned(
                request,
                moved=moved,
                unchanged=marked - moved,
                agent=people.display_name(agent),
            )
            return redirect(request.get_full_path())
    page = Paginator(open_rows.order_by("due_at", "id"), 25).get_page(request.GET.get("page"))
    by_agent = selectors.workload_by_agent(gestion_type=chosen)
    # Filtered by someone who no longer works gestiones (the late alert links here): the
    # "Gestor actual" list offers only who does, so that person is shown as chosen apart.
    gone = next(
        (r for r in by_agent if r.note and str(r.agent_id) == from_agent and r.agent_id), None
    )
    context = {
        "types": types,
        "chosen": chosen,
        "by_state": selectors.workload_by_state(gestion_type=chosen),
        "by_agent": by_agent,
        "unassigned": selectors.unassigned_count(),
        "page": page,
        "bulk_form": bulk_form,
        "from_agent": from_agent,
        # «Reasignar las N gestiones abiertas de este gestor», when one is chosen.
        "of_one_agent": agent_id is not None,
        "all_limit": forms.ALL_LIMIT,
        "agents": gestion_selectors.agents(),
        "gone": gone,
        "chart": {
            "type": "bar",
            "labels": [f"{row.label} {row.note}".strip() for row in by_agent],
            "datasets": [
                {"label": _("Al día"), "data": [r.on_time for r in by_agent], "color": "success"},
                {"label": _("Atrasadas"), "data": [r.late for r in by_agent], "color": "danger"},
            ],
            "options": {"stacked": True, "yLabel": _("Gestiones abiertas")},
        },
    }
    return render(request, "gestiones/workload.html", context)


def _moved_text(moved: int, agent: str) -> str:
    return ngettext(
        "%(n)s gestión reasignada a %(agent)s.",
        "%(n)s gestiones reasignadas a %(agent)s.",
        moved,
    ) % {"n": moved, "agent": agent}


def _say_none_moved(request: HttpRequest, *, which: str, agent: str) -> None:
    messages.warning(
        request,
        _(
            "No se reasignó ninguna gestión: %(which)s ya estaban a cargo de %(agent)s o "
            "se cerraron."
        )
        % {"which": which, "agent": agent},
    )


def _say_reassigned(request: HttpRequest, *, moved: int, unchanged: int, agent: str) -> None:
    """Say how many gestiones changed hands, and how many did not (already the agent's)."""
    if not moved:
        _say_none_moved(request, which=_("las marcadas"), agent=agent)
        return
    text = _moved_text(moved, agent)
    if unchanged:
        text += " " + ngettext(
            "%(n)s no cambió: ya estaba a su cargo o se cerró.",
            "%(n)s no cambiaron: ya estaban a su cargo o se cerraron.",
            unchanged,
        ) % {"n": unchanged}
    messages.success(request, text)


def _say_all_reassigned(
    request: HttpRequest, *, moved: int, expected: int | None, left: int, agent: str
) -> None:
    """Say how many of the agent's open gestiones changed hands, when that is not what the
    page said, and how many are left (above forms.ALL_LIMIT a send moves only that many)."""
    if not moved:
        _say_none_moved(request, which=_("las de este gestor"), agent=agent)
        return
    text = _moved_text(moved, agent)
    if not left and (differs := confirmation.shown_differs(expected, moved)):
        text += " " + differs
    if left:
        text += " " + ngettext(
            "Queda %(n)s abierta a cargo de este gestor: reasígnela con otro envío.",
            "Quedan %(n)s abiertas a cargo de este gestor: reasígnelas con otro envío "
            "(se mueven hasta %(limit)s por vez).",
            left,
        ) % {"n": left, "limit": forms.ALL_LIMIT}
    messages.success(request, text)
