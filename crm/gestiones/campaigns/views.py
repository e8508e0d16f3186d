"""The campaign screens, the life-cycle list, and the public inbound campaign form."""

from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.campaigns import forms, selectors, services, tables
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.deletions import views as deletion_views
from crm.gestiones.models import Campaign, Outcome
from integrations import recaptcha
from lib import lists, ratelimit

RECAPTCHA_ACTION = "campaign"


# Per address: a person registers once or twice; more is a script.
INBOUND_RATE_LIMIT = "10/h"


# What configuring life-cycle events takes (in admin).
LIFECYCLE_CONFIGURATION = "gestiones.change_lifecycleevent"


# How often the campaign page asks for the launch's progress while it runs.
PROGRESS_POLL_SECONDS = 2


# static/js/charts.js colors (Bootstrap theme names) for each outcome.
OUTCOME_COLORS = {
    Outcome.SUCCESS: "success",
    Outcome.OPEN: "primary",
    Outcome.REJECTED: "danger",
    Outcome.CLOSED: "secondary",
}


@require_GET
@permission_required("gestiones.view_campaign", raise_exception=True)
def campaign_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=forms.CampaignFilter(request.GET, queryset=selectors.campaign_list()),
        table_class=tables.CampaignTable,
        page_template="gestiones/campaign_list.html",
        export_name="campanas",
        results_template="gestiones/partials/campaign_results.html",
    )


@permission_required("gestiones.add_campaign", raise_exception=True)
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = forms.CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.save_campaign(data=form.service_data(), actor=request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Campaña «%(name)s» creada.") % {"name": campaign.name})
            return redirect(campaign)
    if request.method == "POST" and "name" in form.errors:
        twin = selectors.just_created(request.POST.get("name", ""))
        if twin is not None:
            messages.info(
                request,
                _(
                    "La campaña «%(name)s» ya se creó hace un momento: no se creó otra. Para "
                    "otra campaña, use otro nombre."
                )
                % {"name": twin.name},
            )
            return redirect(twin)
    return render(request, "gestiones/campaign_form.html", {"form": form, "campaign": None})


@permission_required("gestiones.change_campaign", raise_exception=True)
def campaign_update(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_for(request.user, pk)
    form = forms.CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_campaign(data=form.service_data(), actor=request.user, campaign=campaign)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Campaña actualizada."))
            return redirect(campaign)
    return render(request, "gestiones/campaign_form.html", {"form": form, "campaign": campaign})


@require_http_methods(["GET", "POST"])
@permission_required("gestiones.delete_campaign", raise_exception=True)
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for confirmation, then delete a campaign that reached nobody (audited)."""
    try:
        campaign = selectors.campaign_for(request.user, pk)
    except Http404:
        return deletion_views.deleted_a_moment_ago(
            request,
            kind=deletion_kinds.CAMPAIGN,
            object_id=pk,
            done_url=reverse("gestiones:campaign_list"),
        )
    return deletion_views.confirm_deletion(
        request,
        what=_("la campaña"),
        name=campaign.name,
        details=services.deletion_details(campaign),
        consequences=[_("Su formulario público, si lo tiene, dejará de existir.")]
        if campaign.kind == Campaign.Kind.INBOUND
        else [],
        problem=services.deletion_problem(campaign),
        delete=lambda: services.delete_campaign(campaign=campaign, actor=request.user),
        cancel_url=campaign.get_absolute_url(),
        done_url=reverse("gestiones:campaign_list"),
        done_message=_("Campaña eliminada: %(name)s.") % {"name": campaign.name},
    )


@require_GET
@permission_required("gestiones.view_campaign", raise_exception=True)
def campaign_segment_count(request: HttpRequest) -> HttpResponse:
    """Return "N clientes en el segmento" for the filters the campaign form holds."""
    count, opted_out = forms.SegmentForm(request.GET).segment_count()
    return render(
        request,
        "gestiones/partials/campaign_segment_count.html",
        {"count": count, "opted_out": opted_out},
    )


@require_GET
@permission_required("gestiones.view_campaign", raise_exception=True)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_for(request.user, pk)
    results = selectors.effectiveness(campaign)
    public_url = ""
    if campaign.kind == Campaign.Kind.INBOUND:
        public_url = request.build_absolute_uri(reverse("campaign_form", args=[campaign.slug]))
    return render(
        request,
        "gestiones/campaign_detail.html",
        {
            "campaign": campaign,
            "can_launch": campaign.kind == Campaign.Kind.OUTBOUND
            and campaign.status != Campaign.Status.FINISHED
            and request.user.has_perm("gestiones.change_campaign"),
            "progress": selectors.launch_progress(campaign),
            "poll_seconds": PROGRESS_POLL_SECONDS,
            "results": results,
            "state_chart": state_chart(results),
            "agent_chart": agent_chart(results),
            "public_url": public_url,
        },
    )


@require_POST
@permission_required("gestiones.change_campaign", raise_exception=True)
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_for(request.user, pk)
    try:
        services.launch_campaign(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        if selectors.just_launched(campaign.pk, request.user):
            # Launch pressed twice: the first launch is the one running.
            messages.info(
                request,
                _(
                    "Usted lanzó esta campaña hace un momento: el lanzamiento sigue en curso y "
                    "su avance se ve en esta página; no se lanzó de nuevo."
                ),
            )
        else:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _(
                "Campaña lanzada: los clientes del segmento quedaron en cola y se procesan en "
                "segundo plano; el avance se ve en esta página."
            ),
        )
    return redirect(campaign)


@require_GET
@permission_required("gestiones.view_campaign", raise_exception=True)
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """Return the launch's progress; once it ends, or goes from running to interrupted or
    back (`shown`: the state the page shows), reload the page: the results, the launch
    button's state. An interrupted launch goes on polling: the sweep resumes it."""
    campaign = selectors.campaign_for(request.user, pk)
    progress = selectors.launch_progress(campaign)
    shown = request.GET.get("shown")
    if request.htmx and (
        not progress.is_unfinished or (shown is not None and shown != progress.state)
    ):
        return HttpResponseClientRefresh()
    return render(
        request,
        "gestiones/partials/campaign_progress.html",
        {"campaign": campaign, "progress": progress, "poll_seconds": PROGRESS_POLL_SECONDS},
    )


@require_GET
@permission_required("gestiones.view_lifecycleevent", raise_exception=True)
def lifecycle_list(request: HttpRequest) -> HttpResponse:
    """Show the life-cycle events and how often each has run; say where (and by whom) they
    are configured: in admin, which only administrators open."""
    return render(
        request,
        "gestiones/campaign_lifecycle.html",
        {
            "events": selectors.lifecycle_events(),
            "catch_up_days": selectors.CATCH_UP_DAYS,
            "can_configure": request.user.is_staff
            and request.user.has_perm(LIFECYCLE_CONFIGURATION),
            "configurers": gestion_selectors.admin_configurers(LIFECYCLE_CONFIGURATION),
        },
    )


def state_chart(results: selectors.Effectiveness) -> dict[str, Any]:
    """Return static/js/charts.js data: the campaign's gestiones by state."""
    return {
        "type": "doughnut",
        "labels": [row.name for row in results.by_state],
        "datasets": [{"label": _("Gestiones"), "data": [row.count for row in results.by_state]}],
    }


def agent_chart(results: selectors.Effectiveness) -> dict[str, Any]:
    """Return static/js/charts.js data: each agent's gestiones, stacked by result."""
    rows = results.by_agent
    series = (
        (_("Exitosas"), Outcome.SUCCESS, [r.success for r in rows]),
        (_("En curso"), Outcome.OPEN, [r.open for r in rows]),
        (_("Rechazadas"), Outcome.REJECTED, [r.rejected for r in rows]),
        (
            _("Cerradas"),
            Outcome.CLOSED,
            [r.count - r.success - r.open - r.rejected for r in rows],
        ),
    )
    return {
        "type": "bar",
        "labels": [r.name for r in rows],
        "datasets": [
            {"label": label, "color": OUTCOME_COLORS[outcome], "data": data}
            for label, outcome, data in series
        ],
        "options": {"stacked": True, "yLabel": _("Gestiones")},
    }


@require_http_methods(["GET", "POST"])
@login_not_required
@csp_update(recaptcha.CSP)
def campaign_form(request: HttpRequest, slug: str) -> HttpResponse:
    """Show an open inbound campaign's form; a person who sends it gets a gestión opened."""
    campaign = selectors.public_campaign_for(slug)
    # A campaign whose process another part takes (credit applications: product, amount,
    # term, and a credit lead in the funnel) shows that part's form.
    handler = services.inbound_handler(campaign)
    form_class = handler.form_class if handler else forms.InboundForm
    if request.method == "GET":
        return _render_public(request, campaign, form_class())
    form = form_class(request.POST)
    if not ratelimit.allow_form(request, form, scope="campaign-form", rate=INBOUND_RATE_LIMIT):
        return _render_public(request, campaign, form, status=429)
    if form.is_valid() and recaptcha.form_is_from_a_person(
        form,
        action=RECAPTCHA_ACTION,
        remote_ip=ratelimit.client_ip(request),
        hostname=request.get_host(),
    ):
        try:
            if handler:
                handler.receive(campaign, form)
            else:
                services.register_inbound(campaign=campaign, data=form.registration_data())
        except ValidationError as exc:
            if hasattr(form, "add_service_error"):
                form.add_service_error(exc)
            else:
                # As plain messages: the service may name fields this form does not have.
                form.add_error(None, exc.messages)
        else:
            return redirect("campaign_thanks", slug=campaign.slug)
    return _render_public(request, campaign, form)


@require_GET
@login_not_required
def campaign_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = selectors.public_campaign_for(slug)
    return render(request, "gestiones/public_campaign_thanks.html", {"campaign": campaign})


def _render_public(
    request: HttpRequest, campaign: Campaign, form: forms.InboundForm, *, status: int = 200
) -> HttpResponse:
    context = {
        "campaign": campaign,
        "form": form,
        "recaptcha_site_key": settings.RECAPTCHA_SITE_KEY,
        "recaptcha_action": RECAPTCHA_ACTION,
    }
    return render(request, "gestiones/public_campaign.html", context, status=status)
