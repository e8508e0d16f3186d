"""The /recovery portal's pages: identify with a document and reCAPTCHA, see the offer (with
its countdown), pay it or say why not.

Every view is public (`login_not_required`) and answers a plain "not available" page (404)
while the portal is off (`RecoverySettings.is_active`, off until an admin turns it on).
The debtor comes only from the portal's session (`recovery.portal.session`), never from the
request. Until a document has an active campaign, every answer is the same whether or not
the document is registered.
"""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app import selectors as collection_selectors
from collections_app.models import PaymentLink
from collections_app.portal import selectors as portal_selectors
from collections_app.portal import services as portal_services
from collections_app.portal import session as portal_session
from collections_app.portal import views as portal_views
from collections_app.portal.views import REFERENCE
from collections_app.receivables import Debt
from crm.models import Customer
from integrations import recaptcha
from lib import files, ratelimit
from lib.confirmation import is_confirmed
from recovery import services as recovery_services
from recovery.models import Campaign, RecoverySettings, Visit
from recovery.portal import forms, images, selectors, services, session
from recovery.portal.services import Step
from recovery.receivables import CAMPAIGN

RECAPTCHA_ACTION = "recovery_identify"
# The logo and banner change rarely; their URL carries the settings' version.
IMAGE_MAX_AGE = 60 * 60


def _render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    portal: RecoverySettings,
    status: int = 200,
) -> HttpResponse:
    context = {
        "company_name": settings.COMPANY_NAME,
        "portal": portal,
        "image_version": int(portal.updated_at.timestamp()) if portal.updated_at else 0,
        **context,
    }
    return render(request, f"recovery/portal/{template}", context, status=status)


def _to_identify(request: HttpRequest) -> HttpResponse:
    if getattr(request, "recovery_timed_out", False):
        messages.info(request, _("Su sesión terminó por inactividad. Vuelva a identificarse."))
    return redirect("recovery:identify")


def active_portal(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give the view the portal's settings; answer "not available" while it is off."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        portal = RecoverySettings.current()
        if not portal.is_active:
            return _render(request, "unavailable.html", {}, portal=portal, status=404)
        return view(request, portal, *args, **kwargs)

    return wrapped


def visitor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give the view the visit of the debtor who identified, or send them to identify."""

    @wraps(view)
    def wrapped(request: HttpRequest, portal: RecoverySettings, *args, **kwargs) -> HttpResponse:
        visitor = session.visitor(request)
        if visitor is None:
            return _to_identify(request)
        visit = (
            Visit.objects.select_related("customer")
            .filter(
                pk=visitor.visit_id,
                customer_id=visitor.customer_id,
                campaign_id=visitor.campaign_id,
            )
            .first()
        )
        if visit is None:
            session.sign_out(request)
            return _to_identify(request)
        return view(request, portal, visit, *args, **kwargs)

    return wrapped


def _campaign(visit: Visit) -> Campaign:
    """The visit's campaign as it stands now (finished if its end date went by)."""
    recovery_services.finish_ended()
    return Campaign.objects.get(pk=visit.campaign_id)


def _advisor_url(portal: RecoverySettings, campaign: Campaign) -> str:
    """ "Habla con un asesor": the advisor's WhatsApp, or else the call-back form."""
    digits = re.sub(r"\D", "", portal.advisor_whatsapp)
    if digits:
        text = _("Hola, quiero información sobre mi oferta de la campaña %(code)s.") % {
            "code": campaign.code
        }
        return f"https://wa.me/{digits}?{urlencode({'text': text})}"
    return reverse("recovery:decline") + "?motivo=asesor"


# --- Identification ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
@csp_update(recaptcha.CSP)
@active_portal
def identify(request: HttpRequest, portal: RecoverySettings) -> HttpResponse:
    """Ask for the document; open the offer of whoever has an active campaign, and give
    everyone else one same answer."""
    if request.method == "GET":
        if session.visitor(request) is not None:
            return redirect("recovery:offer")
        return _render_identify(request, portal, forms.IdentifyForm())
    form = forms.IdentifyForm(request.POST)
    rate = settings.PORTAL_IDENTIFY_RATE_LIMIT
    if not ratelimit.allow_form(request, form, scope="recovery-identify", rate=rate):
        return _render_identify(request, portal, form, status=429)
    if not form.is_valid() or not recaptcha.form_is_from_a_person(
        form,
        action=RECAPTCHA_ACTION,
        remote_ip=ratelimit.client_ip(request),
        hostname=request.get_host(),
        way_out=_way_out(portal),
    ):
        return _render_identify(request, portal, form)
    document_type = form.cleaned_data["document_type"]
    number = form.cleaned_data["document_number"]
    limit, seconds = ratelimit.parse_rate(settings.PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT)
    key = portal_services.document_key(document_type, number)
    if not ratelimit.hit(f"recovery-identify-document:{key}", limit, seconds):
        form.add_error(
            None,
            _(
                "Se consultó este documento demasiadas veces. Espere un rato y vuelva a "
                "intentarlo, o comuníquese con nosotros."
            ),
        )
        return _render_identify(request, portal, form, status=429)
    recovery_services.finish_ended()
    campaign = selectors.campaign_for_document(document_type, number)
    if campaign is None:
        # An unknown document and one without an active campaign: the same page.
        return _render_identify(request, portal, forms.IdentifyForm(), no_offer=True)
    visitor = session.visitor(request)
    if visitor is not None and (visitor.customer_id, visitor.campaign_id) == (
        campaign.customer_id,
        campaign.pk,
    ):
        # The form sent again (the back button): the visit under way goes on.
        return redirect("recovery:offer")
    visit = services.start_visit(
        customer=campaign.customer,
        campaign=campaign,
        # The browser's CSRF cookie: the same in two sends of one form, another elsewhere.
        browser=request.META.get("CSRF_COOKIE", ""),
    )
    session.sign_in(
        request, customer_id=campaign.customer_id, campaign_id=campaign.pk, visit_id=visit.pk
    )
    return redirect("recovery:offer")


def _render_identify(
    request: HttpRequest,
    portal: RecoverySettings,
    form: forms.IdentifyForm,
    *,
    status: int = 200,
    no_offer: bool = False,
) -> HttpResponse:
    way_out = _way_out(portal)
    context = {
        "form": form,
        "no_offer": no_offer,
        "recaptcha_site_key": settings.RECAPTCHA_SITE_KEY,
        "recaptcha_action": RECAPTCHA_ACTION,
        # Said on the page when Google's check never loads (integrations.recaptcha).
        "recaptcha_not_loaded": recaptcha.not_loaded_message(way_out=way_out),
        "recaptcha_way_out": way_out,
    }
    return _render(request, "identify.html", context, portal=portal, status=status)


def _way_out(portal: RecoverySettings) -> str:
    """Another way in for a debtor whose browser cannot run Google's check: the advisors'
    WhatsApp the offer's «Habla con un asesor» uses."""
    return recaptcha.way_out(whatsapp=portal.advisor_whatsapp)


def from_customer_portal(request: HttpRequest, customer: Customer, debts: list[Debt]) -> str | None:
    """Where the customer portal sends a debtor with an active campaign: the offer.

    Registered into `collections_app.portal.redirects`; `debts` are the customer's open
    debts besides loans, which hold their active campaign (an ended one is finished as
    they are read). The debtor proved who they are with the customer portal's code, so
    they are signed in here too (one visit, kept while they come and go). None while the
    portal is off or without a campaign.
    """
    campaign_id = next((debt.id for debt in debts if debt.kind == CAMPAIGN), None)
    if campaign_id is None or not RecoverySettings.current().is_active:
        return None
    campaign = Campaign.objects.get(pk=campaign_id)
    current = session.visitor(request)
    if current is None or (current.customer_id, current.campaign_id) != (
        customer.pk,
        campaign.pk,
    ):
        visit = services.start_visit(
            customer=customer, campaign=campaign, detail=_("desde el portal del cliente")
        )
        session.sign_in(
            request, customer_id=customer.pk, campaign_id=campaign.pk, visit_id=visit.pk
        )
    return reverse("recovery:offer")


def link_page(link: PaymentLink) -> str | None:
    """Where the customer portal's link page sends a payer back from the gateway: a
    campaign's link is shown here while this portal is on. Registered into
    `collections_app.portal.redirects`."""
    if link.receivable_kind != CAMPAIGN or not RecoverySettings.current().is_active:
        return None
    return reverse("recovery:link", args=[link.reference])


@require_POST
@login_not_required
def logout(request: HttpRequest) -> HttpResponse:
    session.sign_out(request)
    # A debtor the customer portal sent here leaves it too: its visit would open the offer
    # again for whoever uses the browser next.
    portal_session.sign_out(request)
    messages.info(request, _("Cerró su sesión."))
    return redirect("recovery:identify")


# --- The offer -----------------------------------------------------------------------------


@require_http_methods(["GET"])
@login_not_required
@never_cache
@active_portal
@visitor_required
def offer(request: HttpRequest, portal: RecoverySettings, visit: Visit) -> HttpResponse:
    """Show the offer: the debt struck through, the discount, what settles it, and the
    countdown; or that it concluded, or that it is paid."""
    campaign = _campaign(visit)
    if campaign.is_active:
        services.note_first_visit(campaign, portal)
    found = selectors.offer(campaign, portal)
    if found.is_open:
        services.reach(visit=visit, step=Step.OFFER)
    form = forms.DeclineForm(
        reasons=selectors.decline_reasons(portal),
        phone_on_file_ends=_phone_ends(visit.customer),
    )
    context = {
        "offer": found,
        "campaign": campaign,
        "customer": visit.customer,
        "recovery_visitor": True,
        "advisor_url": _advisor_url(portal, campaign),
        "decline_form": form,
        "offer_text": selectors.offer_text(portal, campaign, visit.customer, timezone.localdate()),
    }
    return _render(request, "offer.html", context, portal=portal)


def _phone_ends(customer: Customer) -> str:
    """The last three digits of the customer's phone: enough to recognise it, not to call."""
    return str(customer.phone.national_number)[-3:] if customer.phone else ""


@require_http_methods(["GET"])
@login_not_required
@never_cache
@active_portal
@visitor_required
def options(request: HttpRequest, portal: RecoverySettings, visit: Visit) -> HttpResponse:
    """The payment options for the offer (the customer portal's gateways)."""
    campaign = _campaign(visit)
    found = selectors.offer(campaign, portal)
    if not found.is_open:
        return redirect("recovery:offer")
    services.reach(visit=visit, step=Step.PAYMENT_OPTIONS)
    context = {
        "offer": found,
        "campaign": campaign,
        "customer": visit.customer,
        "recovery_visitor": True,
        "gateways": portal_selectors.gateways(),
        # A payment started and not confirmed yet (Back from the gateway): said first, so
        # the debtor does not pay the balance again through the other gateway.
        "under_way": portal_views.under_way(_started(visit), "recovery:link"),
    }
    return _render(request, "options.html", context, portal=portal)


def _started(visit: Visit) -> list[PaymentLink]:
    """The open links the debtor started for the visit's campaign, newest first."""
    started = collection_selectors.payments_under_way(visit.customer)
    return started.get((CAMPAIGN, visit.campaign_id), [])


@require_POST
@login_not_required
@never_cache
@active_portal
@visitor_required
def pay(request: HttpRequest, portal: RecoverySettings, visit: Visit) -> HttpResponse:
    """Make a payment link for the campaign's balance and go to it; refused once the
    offer concluded, whatever the page showed."""
    form = forms.PayForm(request.POST, gateways=portal_selectors.gateways())
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("recovery:options")
    provider = form.cleaned_data["provider"]
    started = portal_views.other_gateway_started(_started(visit), provider)
    if started is not None and not is_confirmed(request.POST):
        context = {
            "customer": visit.customer,
            "recovery_visitor": True,
            **portal_views.confirm_other_gateway(
                request,
                started,
                provider=provider,
                link_url="recovery:link",
                back_url=reverse("recovery:options"),
            ),
        }
        return _render(request, "options.html", context, portal=portal)
    try:
        link = services.pay(visit=visit, portal=portal, provider=provider)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("recovery:offer")
    # Our page sends the payer on (CSP's form-action 'self' holds a form's redirects).
    return redirect(reverse("recovery:link", args=[link.reference]) + "?ir=1")


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
@active_portal
@visitor_required
def decline(request: HttpRequest, portal: RecoverySettings, visit: Visit) -> HttpResponse:
    """ "No me interesa esta oferta": the reason, and a phone when asking for an advisor."""
    reasons = selectors.decline_reasons(portal)
    campaign = _campaign(visit)
    context = {"campaign": campaign, "customer": visit.customer, "recovery_visitor": True}
    ends = _phone_ends(visit.customer)
    if request.method == "GET":
        initial = {}
        if request.GET.get("motivo") == "asesor":
            initial["reason"] = selectors.ADVISOR_REASON
        form = forms.DeclineForm(reasons=reasons, initial=initial, phone_on_file_ends=ends)
        return _render(request, "decline.html", {**context, "form": form}, portal=portal)
    form = forms.DeclineForm(request.POST, reasons=reasons, phone_on_file_ends=ends)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.decline(
                visit=visit,
                reason=data["reason"],
                phone=data["phone"] if form.wants_a_call else "",
                preferred_time=form.preferred_time_text() if form.wants_a_call else "",
            )
        except ValidationError as exc:
            for field, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("recovery:declined")
    return _render(request, "decline.html", {**context, "form": form}, portal=portal)


@require_http_methods(["GET"])
@login_not_required
@never_cache
@active_portal
@visitor_required
def declined(request: HttpRequest, portal: RecoverySettings, visit: Visit) -> HttpResponse:
    """Thanks for saying why; an advisor will call when asked for."""
    if not visit.declined:
        return redirect("recovery:offer")
    context = {
        "visit": visit,
        "customer": visit.customer,
        "recovery_visitor": True,
        "is_callback": visit.decline_reason == selectors.ADVISOR_REASON,
    }
    return _render(request, "declined.html", context, portal=portal)


# --- The payment link, and the images --------------------------------------------------------


@require_http_methods(["GET"])
@login_not_required
@never_cache
@active_portal
def link(request: HttpRequest, portal: RecoverySettings, reference: str) -> HttpResponse:
    """A campaign's payment link: on to the gateway when just made, else its state.

    Shows the amount and the state, nothing personal, unless the session is that
    customer's. Only the gateway's notification marks a link paid.
    """
    if re.fullmatch(REFERENCE, reference) is None:
        raise Http404
    found = portal_selectors.link_for_reference(reference)
    if found is None or found.receivable_kind != CAMPAIGN:
        raise Http404
    # The page's own reload is nobody's activity (as on the customer portal's link page).
    is_reload = portal_session.is_page_reload(request)
    visitor = session.visitor(request, renew=not is_reload)
    if is_reload and getattr(request, "recovery_timed_out", False):
        return _to_identify(request)
    is_owner = visitor is not None and visitor.customer_id == found.customer_id
    campaign = Campaign.objects.filter(pk=found.receivable_id).first()
    terms = selectors.link_terms(found, campaign, portal, timezone.now())
    # Once the offer it pays concluded, the page says so and no longer sends to the gateway.
    is_waiting = (
        found.status == PaymentLink.Status.ACTIVE and found.is_open and not terms.offer_concluded
    )
    context = {
        "link": found,
        "gateway_label": portal_selectors.gateway_label(found.provider),
        "is_owner": is_owner,
        "is_waiting": is_waiting,
        "is_creating": portal_selectors.is_being_created(found),
        "is_going": is_owner and is_waiting and request.GET.get("ir") == "1",
        "terms": terms,
        "advisor_url": _advisor_url(portal, campaign) if is_owner and campaign else "",
        "recovery_visitor": is_owner,
    }
    return _render(request, "link.html", context, portal=portal)


@require_GET
@login_not_required
def image(request: HttpRequest, kind: str) -> HttpResponse:
    """Serve the portal's current logo or banner; nothing else, and only an image."""
    if kind not in images.KINDS:
        raise Http404
    stored = getattr(RecoverySettings.current(), kind)
    if not stored:
        raise Http404
    try:
        with stored.storage.open(stored.name, "rb") as handle:
            head = handle.read(images.HEAD_BYTES)
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    content_type = images.content_type(head)
    if content_type is None:
        raise Http404
    response = files.serve(stored, as_attachment=False, content_type=content_type)
    response["Cache-Control"] = f"public, max-age={IMAGE_MAX_AGE}"
    return response
