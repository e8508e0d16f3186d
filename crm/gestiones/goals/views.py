"""The goal screens: the goals (*metas*) per agent and product, and their monthly progress."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.deletions import views as deletion_views
from crm.gestiones.goals import forms, selectors, services, tables
from crm.gestiones.models import Goal
from lib import lists
from lib.money import Currency


@require_GET
@permission_required("gestiones.view_goal", raise_exception=True)
def goal_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=forms.GoalFilter(
            request.GET,
            queryset=selectors.goal_list(request.user).order_by("-year", "-month", "id"),
            request=request,
        ),
        table_class=tables.GoalTable,
        page_template="gestiones/goal_list.html",
        export_name="metas",
        results_template="gestiones/partials/goal_results.html",
    )


@permission_required("gestiones.add_goal", raise_exception=True)
def goal_create(request: HttpRequest) -> HttpResponse:
    form = forms.GoalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            goal = services.create_goal(data=form.cleaned_data)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            _saved(request, goal, _("Meta registrada."))
            return redirect("gestiones:goal_list")
    if request.method == "POST" and form.errors:
        # The same goal sent twice (a double click, the back button and send): the first
        # registered it, so the second finds it as typed instead of "already has one".
        twin = selectors.identical_goal(form.cleaned_data)
        if twin is not None:
            messages.info(
                request,
                _("La meta %(goal)s ya está registrada con estos mismos valores: no se creó otra.")
                % {"goal": selectors.label(twin)},
            )
            return redirect("gestiones:goal_list")
    return render(request, "gestiones/goal_form.html", {"form": form, "goal": None})


@permission_required("gestiones.change_goal", raise_exception=True)
def goal_update(request: HttpRequest, pk: int) -> HttpResponse:
    goal = selectors.goal_for(request.user, pk)
    title = selectors.label(goal)  # before the form writes what was typed onto the instance
    form = forms.GoalForm(request.POST or None, instance=goal)
    if request.method == "POST" and form.is_valid():
        try:
            goal = services.update_goal(goal=goal, data=form.cleaned_data)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            _saved(request, goal, _("Meta actualizada."))
            return redirect("gestiones:goal_list")
    return render(request, "gestiones/goal_form.html", {"form": form, "goal": goal, "title": title})


@require_http_methods(["GET", "POST"])
@permission_required("gestiones.delete_goal", raise_exception=True)
def goal_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for confirmation, then delete the goal (the audit records who and when)."""
    try:
        goal = selectors.goal_for(request.user, pk)
    except Http404:
        return deletion_views.deleted_a_moment_ago(
            request,
            kind=deletion_kinds.GOAL,
            object_id=pk,
            done_url=reverse("gestiones:goal_list"),
        )
    label = selectors.label(goal)
    return deletion_views.confirm_deletion(
        request,
        what=_("la meta"),
        name=label,
        details=selectors.deletion_details(goal),
        consequences=[
            _("El avance de ese vendedor en ese mes ya no tendrá meta de ese producto."),
            _("Las gestiones que contaba no cambian."),
        ],
        problem="",
        delete=lambda: services.delete_goal(goal=goal, actor=request.user),
        cancel_url=reverse("gestiones:goal_list"),
        done_url=reverse("gestiones:goal_list"),
        done_message=_("Meta eliminada: %(goal)s.") % {"goal": label},
    )


@require_GET
@permission_required("gestiones.view_goal", raise_exception=True)
def goal_progress(request: HttpRequest) -> HttpResponse:
    """Show each goal of a month (the current one by default) against what was achieved."""
    sees_all = selectors.sees_all_goals(request.user)
    form = forms.ProgressForm(request.GET, sees_all=sees_all)
    period = form.month_and_filters()
    rows = selectors.progress(goals=selectors.visible_goals(request.user), **period)
    context = {
        "form": form,
        "rows": rows,
        "sees_all": sees_all,
        "period": period,
        "local_chart": selectors.agent_chart(rows, currency=Currency.PEN),
        "usd_chart": selectors.agent_chart(rows, currency=Currency.USD),
    }
    return render(request, "gestiones/goal_progress.html", context)


def _saved(request: HttpRequest, goal: Goal, message: str) -> None:
    messages.success(request, message)
    warning = selectors.state_warning(goal)
    if warning:
        messages.warning(request, warning)
