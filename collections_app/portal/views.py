"""The customer portal's pages: identify, enter the code, read the statement and act on it.

Every view is public (`login_not_required`) and keeps to the portal's session
(`portal.session`): a staff sign-in in the same browser means nothing here, and the
customer comes only from the session, never from the request. Until the code is proved,
every answer is the same whether or not the document is registered.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import engines
from django.template.backends.utils import csrf_input
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from collections_app import receivables
from collections_app import selectors as collection_selectors
from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink
from collections_app.portal import forms, redirects, selectors, services, session, tasks
from collections_app.portal.services import Step
from crm import display
from crm.models import Customer
from integrations import recaptcha
from lib import amounts, ratelimit
from lib.confirmation import CONFIRM_FIELD, is_confirmed

RECAPTCHA_ACTION = "portal_identify"
REFERENCE = r"PL-[0-9a-f]{20}"
# A statement of more accounts than this shows each as one line (what is due, the next
# installment, its payments), ACCOUNTS_PER_PAGE at a time, and its installments on demand:
# whole, 1,700 loans made a 16 MB page.
WHOLE_ACCOUNTS_UP_TO = 5
ACCOUNTS_PER_PAGE = 50


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    context = {"company_name": settings.COMPANY_NAME, **context}
    return render(request, f"collections_app/portal/{template}", context, status=status)


def _to_identify(request: HttpRequest) -> HttpResponse:
    if getattr(request, "portal_timed_out", False):
        messages.info(request, _("Su sesión terminó por inactividad. Vuelva a identificarse."))
    return redirect("collections_app:portal_identify")


def visitor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give the view the customer who proved the code, or send the visitor to identify."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        visitor = session.visitor(request)
        if visitor is None:
            return _to_identify(request)
        # A record merged into another one since (crm.merge) has nothing left here: the
        # visitor identifies again, and their document finds the kept record.
        customer = Customer.objects.current().filter(pk=visitor.customer_id).first()
        if customer is None:
            session.sign_out(request)
            return _to_identify(request)
        return view(request, visitor, customer, *args, **kwargs)

    return wrapped


def _step(
    request: HttpRequest,
    visitor: session.Visitor,
    customer: Customer,
    step: str,
    detail: str = "",
) -> None:
    session.reach(request, step)
    services.record_step(customer=customer, visit=visitor.visit, step=step, detail=detail)


# --- Identification ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
@csp_update(recaptcha.CSP)
def identify(request: HttpRequest) -> HttpResponse:
    """Ask for the document; send a code to whoever has it, and say the same to everyone."""
    if request.method == "GET":
        if session.visitor(request) is not None:
            return redirect("collections_app:portal_statement")
        return _render_identify(request, forms.IdentifyForm())
    form = forms.IdentifyForm(request.POST)
    rate = settings.PORTAL_IDENTIFY_RATE_LIMIT
    if not ratelimit.allow_form(request, form, scope="portal-identify", rate=rate):
        return _render_identify(request, form, status=429)
    if not form.is_valid() or not recaptcha.form_is_from_a_person(
        form,
        action=RECAPTCHA_ACTION,
        remote_ip=ratelimit.client_ip(request),
        hostname=request.get_host(),
        way_out=_way_out(),
    ):
        return _render_identify(request, form)
    document_type = form.cleaned_data["document_type"]
    number = form.cleaned_data["document_number"]
    limit, seconds = ratelimit.parse_rate(settings.PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT)
    if not ratelimit.hit(
        f"portal-identify-document:{services.document_key(document_type, number)}",
        limit,
        seconds,
    ):
        form.add_error(
            None,
            _(
                "Se pidieron demasiados códigos para este documento. Espere un rato y vuelva "
                "a intentarlo, o comuníquese con nosotros."
            ),
        )
        return _render_identify(request, form, status=429)
    # Queued: made here, the code would cost a registered document more time than an unknown one.
    tasks.request_code.delay(document_type, number)
    session.start_pending(request, document_type=document_type, document_number=number)
    return redirect("collections_app:portal_code")


def _render_identify(
    request: HttpRequest, form: forms.IdentifyForm, *, status: int = 200
) -> HttpResponse:
    way_out = _way_out()
    context = {
        "form": form,
        "recaptcha_site_key": settings.RECAPTCHA_SITE_KEY,
        "recaptcha_action": RECAPTCHA_ACTION,
        # What the page says when Google's check cannot load, or runs without JavaScript.
        "recaptcha_not_loaded": recaptcha.not_loaded_message(way_out=way_out),
        "recaptcha_way_out": way_out,
    }
    return _render(request, "identify.html", context, status=status)


def _way_out() -> str:
    """Another way in for a debtor whose browser cannot run Google's check: the portal has
    no contact number of its own (settings), so the company's address, when it has one."""
    return recaptcha.way_out(address=settings.COMPANY_ADDRESS)


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
def code(request: HttpRequest) -> HttpResponse:
    """Take the code; the right one, in time and within the attempts, opens the statement."""
    pending = session.pending(request)
    if pending is None:
        return redirect("collections_app:portal_identify")
    if pending.is_expired:
        session.forget_pending(request)
        messages.warning(request, _("El código venció. Pida uno nuevo."))
        return redirect("collections_app:portal_identify")
    form = forms.CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        rate = settings.PORTAL_CODE_RATE_LIMIT
        if not ratelimit.allow_form(request, form, scope="portal-code", rate=rate):
            return _render_code(request, form, status=429)
        if pending.attempts >= services.MAX_ATTEMPTS:
            return _spent(request)
        if form.is_valid():
            customer = services.check_code(
                document_type=pending.document_type,
                document_number=pending.document_number,
                code=form.cleaned_data["code"],
            )
            if customer is not None:
                visit = services.start_visit(customer)
                session.sign_in(request, customer_id=customer.pk, visit=visit, step=Step.IDENTIFIED)
                return redirect("collections_app:portal_statement")
            left = services.MAX_ATTEMPTS - session.count_attempt(request)
            if left <= 0:
                return _spent(request)
            form.add_error(
                "code",
                ngettext(
                    "El código no es correcto. Le queda %(left)s intento. Si recibió más de "
                    "un código, use el del último mensaje.",
                    "El código no es correcto. Le quedan %(left)s intentos. Si recibió más de "
                    "un código, use el del último mensaje.",
                    left,
                )
                % {"left": left},
            )
    return _render_code(request, form)


def _spent(request: HttpRequest) -> HttpResponse:
    session.forget_pending(request)
    messages.error(
        request, _("Ingresó un código incorrecto demasiadas veces. Pida un código nuevo.")
    )
    return redirect("collections_app:portal_identify")


def _render_code(request: HttpRequest, form: forms.CodeForm, *, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "call_form": forms.CallTimeForm(),
        "minutes": services.CODE_MINUTES,
    }
    return _render(request, "code.html", context, status=status)


@require_POST
@login_not_required
@never_cache
def code_callback(request: HttpRequest) -> HttpResponse:
    """A visitor who got no code asks to be called: on the phone on file, if there is one."""
    pending = session.pending(request)
    if pending is None:
        return redirect("collections_app:portal_identify")
    form = forms.CallTimeForm(request.POST)
    rate = settings.PORTAL_CALL_RATE_LIMIT
    if ratelimit.allow_form(request, form, scope="portal-call", rate=rate) and form.is_valid():
        services.request_call_unverified(
            document_type=pending.document_type,
            document_number=pending.document_number,
            preferred_time=form.preferred_time_text(),
        )
        session.forget_pending(request)
        return _render(request, "call_requested.html", {})
    errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
    messages.error(request, " ".join(errors))
    return redirect("collections_app:portal_code")


@require_POST
@login_not_required
def logout(request: HttpRequest) -> HttpResponse:
    session.sign_out_everywhere(request)
    messages.info(request, _("Cerró su sesión en el portal."))
    return redirect("collections_app:portal_identify")


# --- The statement and its actions -----------------------------------------------------------


@require_http_methods(["GET"])
@login_not_required
@never_cache
@visitor_required
def statement(request: HttpRequest, visitor: session.Visitor, customer: Customer) -> HttpResponse:
    """Show the customer's debts, installments paid and pending, and what they can do."""
    today = timezone.localdate()
    # Read once: where the debtor goes, and the statement's accounts besides the loans.
    others = receivables.open_debts(customer.pk, today, besides=receivables.LOAN)
    # A debtor another portal serves (recovery: an active written-off campaign) goes there.
    if (elsewhere := redirects.destination(request, customer, others)) is not None:
        return redirect(elsewhere)
    found = selectors.statement(customer, today, others=others)
    gateways = selectors.gateways()
    if Step.STATEMENT not in visitor.steps:
        _step(request, visitor, customer, Step.STATEMENT)
    gateway = _gateway(request, gateways)
    started = collection_selectors.payments_under_way(customer)
    context = {
        "customer": customer,
        "statement": found,
        "gateways": gateways,
        "gateway": gateway,
        "portal_customer": customer,
        # Payments started and not confirmed yet, any gateway: said first, so a debtor whose
        # gateway page never came back does not pay again through the other one.
        "under_way": under_way(
            [link for links in started.values() for link in links], "collections_app:portal_link"
        ),
        "names_debts": len(found.accounts) > 1,
        # Paid beyond a debt (two links paid, a transfer crossing the last payment): said
        # while it waits, also once nothing is owed.
        "credit_balances": collection_selectors.credit_balances(customer.pk),
    }
    if len(found.accounts) > WHOLE_ACCOUNTS_UP_TO:
        # One line an account, the most urgent first, a page at a time; each account's
        # installments come on demand (views.account).
        context["summary"] = Paginator(
            selectors.by_urgency(found.accounts), ACCOUNTS_PER_PAGE
        ).get_page(request.GET.get("pagina"))
        return _render(request, "statement.html", context)
    installments = _installments(
        request,
        gateway,
        # Paid installments are counted, and listed when asked for.
        show_paid=request.GET.get("pagadas") == "1",
    )
    write = amounts.writer()  # Django's number formatting, ~15 µs an amount, was a tenth
    context["accounts"] = [
        (account, installments(account, _money_writer(write, account.currency)))
        for account in found.accounts
    ]
    return _render(request, "statement.html", context)


@require_http_methods(["GET"])
@login_not_required
@never_cache
@visitor_required
def account(
    request: HttpRequest,
    visitor: session.Visitor,
    customer: Customer,
    kind: str,
    account_id: int,
) -> HttpResponse:
    """Show one of the customer's accounts whole, as a short statement shows each: its
    installments and every action; the fragment «Ver las cuotas» swaps in, or a page of its
    own without JavaScript. Another customer's account is not found."""
    today = timezone.localdate()
    others = receivables.open_debts(customer.pk, today, besides=receivables.LOAN)
    # Where the statement would send the debtor, this account's page does too.
    if (elsewhere := redirects.destination(request, customer, others)) is not None:
        return HttpResponseClientRedirect(elsewhere) if request.htmx else redirect(elsewhere)
    found = selectors.account(customer, kind, account_id, today, others=others)
    if found is None:
        raise Http404
    gateways = selectors.gateways()
    gateway = _gateway(request, gateways)
    url = reverse("collections_app:portal_account", args=[kind, account_id])
    show_paid = request.GET.get("pagadas") == "1"
    installments = _installments(
        request, gateway, show_paid=show_paid, paid_url=None if show_paid else f"{url}?pagadas=1"
    )
    started = collection_selectors.payments_under_way(customer).get((found.kind, found.id), [])
    context = {
        "customer": customer,
        "account": found,
        "installments": installments(found, _money_writer(amounts.writer(), found.currency)),
        # The card's forms are named after the account, unique beside the other lines.
        "card": found.anchor,
        "gateway": gateway,
        "portal_customer": customer,
        # As the statement says them, above its pay buttons: in the card, so the fragment
        # that swaps in for «Ver las cuotas» says them too.
        "account_under_way": under_way(started, "collections_app:portal_link"),
    }
    if request.htmx:
        return _render(request, "statement.html#account-card", context)
    return _render(request, "statement.html", {**context, "only_account": True})


def _gateway(request: HttpRequest, gateways: list[selectors.Gateway]) -> selectors.Gateway | None:
    """The gateway the visitor chose (`pasarela`), or the first one configured."""
    chosen = next((g for g in gateways if g.name == request.GET.get("pasarela")), None)
    return chosen or (gateways[0] if gateways else None)


def _installments(
    request: HttpRequest,
    gateway: selectors.Gateway | None,
    *,
    show_paid: bool,
    paid_url: str | None = None,
) -> Callable[..., str]:
    """Return the Jinja2 macro that writes an account's installments (the page's longest
    part): its template is made a module once per page (its translations with it), and each
    account is one call. `paid_url` lists the paid installments (else "?pagadas=1")."""
    return (
        engines["jinja2"]
        .env.get_template("collections_app/portal_installments.jinja")
        .make_module(
            {
                "gateway": gateway,
                "csrf": str(csrf_input(request)),
                "pay_url": reverse("collections_app:portal_pay"),
                "show_paid": show_paid,
                "paid_url": paid_url,
            }
        )
        .installments
    )


@require_POST
@login_not_required
@never_cache
@visitor_required
def pay(request: HttpRequest, visitor: session.Visitor, customer: Customer) -> HttpResponse:
    """Make a payment link for an installment, the total or an amount, and go to it."""
    form = forms.PayForm(
        request.POST, statement=selectors.statement(customer), gateways=selectors.gateways()
    )
    if not form.is_valid():
        messages.error(request, form.error_text())
        return redirect("collections_app:portal_statement")
    data = form.cleaned_data
    receivable = form.receivable()
    besides = None if is_confirmed(request.POST) else _paid_besides(customer, form.account, data)
    if besides is not None:
        started, amount = besides
        context = {
            "customer": customer,
            "portal_customer": customer,
            **confirm_other_gateway(
                request,
                started,
                provider=data["provider"],
                link_url="collections_app:portal_link",
                back_url=reverse("collections_app:portal_statement"),
                amount=amount,
            ),
        }
        return _render(request, "statement.html", context)
    try:
        link = collection_services.create_payment_link(
            customer=customer,
            **receivable,
            concept=data["concept"],
            provider=data["provider"],
            origin=Origin.PORTAL,
            actor=None,
            amount=data["amount"] if data["concept"] == PaymentLink.Concept.CUSTOM else None,
            installment_number=data["installment_number"],
            payer_email=customer.email,
            reuse_open=True,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("collections_app:portal_statement")
    session.reach(request, Step.LINK)
    # Once per link: pressed twice, the second press finds the first's link.
    services.record_link_step(customer=customer, visit=visitor.visit, link=link)
    return redirect(_going_to(link))


def _paid_besides(
    customer: Customer, account: selectors.Account, data: dict[str, Any]
) -> tuple[PaymentLink, Decimal] | None:
    """Return the debt's payment under way that the link `data` asks for would be paid
    besides, with that link's amount; None when nothing is under way, or when the link is
    one already open (create_payment_link's reuse_open: pressed again, it goes on)."""
    links = collection_selectors.payments_under_way(customer).get((account.kind, account.id), [])
    if not links or account.debt is None:
        return None
    try:
        amount = collection_services.link_amount(
            account.debt,
            concept=data["concept"],
            amount=data["amount"],
            installment_number=data["installment_number"],
        )
    except ValidationError:
        return None  # no link is made: create_payment_link says why
    number = (
        data["installment_number"] if data["concept"] == PaymentLink.Concept.INSTALLMENT else None
    )
    # The same conditions as create_payment_link's reuse, so that a second link is never
    # made without asking.
    reused_after = timezone.now() + collection_services.LINK_REUSE_MARGIN
    if any(
        link.agreement_id is None
        and (link.concept, link.installment_number, link.amount, link.provider)
        == (data["concept"], number, amount, data["provider"])
        and link.expires_at > reused_after
        for link in links
    ):
        return None
    started = paid_besides(links, amount)
    return None if started is None else (started, amount)


@dataclass(frozen=True)
class UnderWay:
    """A payment the debtor started (a link still open), as the portals tell it."""

    link: PaymentLink
    gateway: str  # as people read it ("MercadoPago")
    url: str  # the link's page: its state, and on to the gateway while it waits


def under_way(links: list[PaymentLink], link_url: str) -> list[UnderWay]:
    """The payments `links` started, each with its page (`link_url`, a URL name)."""
    return [
        UnderWay(
            link=link,
            gateway=selectors.gateway_label(link.provider),
            url=reverse(link_url, args=[link.reference]),
        )
        for link in links
    ]


def other_gateway_started(links: list[PaymentLink], provider: str) -> PaymentLink | None:
    """Return the payment of a debt started through another gateway than `provider`, which
    a link through `provider` would charge again; None when there is none, or when one
    through `provider` is open too (pressed again, it goes on as before).

    `links`: the debt's open links the debtor started, newest first
    (collection_selectors.payments_under_way).
    """
    if any(link.provider == provider for link in links):
        return None
    return links[0] if links else None


def paid_besides(links: list[PaymentLink], amount: Decimal) -> PaymentLink | None:
    """Return the payment under way a new one of `amount` for the same debt would be paid
    besides: one of that amount first (through another gateway, paying both charges the
    debtor twice), else the newest; None when `links` (newest first) is empty."""
    return next((link for link in links if link.amount == amount), links[0] if links else None)


def confirm_other_gateway(
    request: HttpRequest,
    started: PaymentLink,
    *,
    provider: str,
    link_url: str,
    back_url: str,
    amount: Decimal | None = None,
    is_down_payment: bool = False,
) -> dict[str, Any]:
    """What the confirmation before paying through a second gateway shows: the payment
    under way, and a form that sends the same POST again, confirmed (no script: the portals
    work without JavaScript). Nothing is withdrawn: the debtor may be paying it now.

    `amount`: what the new payment charges; when it is not the started one's, the page says
    both will be paid (rather than charged twice). `is_down_payment`: an agreement's."""
    hidden = [
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", CONFIRM_FIELD)
        for value in request.POST.getlist(name)
    ]
    return {
        "confirm_other": under_way([started], link_url)[0],
        "confirm_gateway": selectors.gateway_label(provider),
        "confirm_action": request.path,
        "confirm_hidden": hidden,
        "confirm_field": CONFIRM_FIELD,
        "confirm_back_url": back_url,
        "confirm_amount": amount if amount is not None and amount != started.amount else None,
        "confirm_down_payment": is_down_payment,
    }


@require_POST
@login_not_required
@never_cache
@visitor_required
def agreement(request: HttpRequest, visitor: session.Visitor, customer: Customer) -> HttpResponse:
    """Take an agreement offered for a debt and go to pay its down payment."""
    form = forms.AgreementForm(
        request.POST, statement=selectors.statement(customer), gateways=selectors.gateways()
    )
    if not form.is_valid():
        messages.error(request, form.error_text())
        return redirect("collections_app:portal_statement")
    # An option the statement offers (none while the debt has an agreement in course: then
    # create_agreement refuses, or a second press goes on to the first's down payment).
    option = next((o for o in form.account.options if o.key == form.cleaned_data["option"]), None)
    if option is not None and not is_confirmed(request.POST):
        # A down payment's link is never reused: any payment under way is asked about.
        started = paid_besides(
            collection_selectors.payments_under_way(customer).get(
                (form.account.kind, form.account.id), []
            ),
            option.down_payment,
        )
        if started is not None:
            context = {
                "customer": customer,
                "portal_customer": customer,
                **confirm_other_gateway(
                    request,
                    started,
                    provider=form.cleaned_data["provider"],
                    link_url="collections_app:portal_link",
                    back_url=reverse("collections_app:portal_statement"),
                    amount=option.down_payment,
                    is_down_payment=True,
                ),
            }
            return _render(request, "statement.html", context)
    try:
        taken, link = collection_services.create_agreement(
            customer=customer,
            **form.receivable(),
            option_key=form.cleaned_data["option"],
            provider=form.cleaned_data["provider"],
            origin=Origin.PORTAL,
            actor=None,
            payer_email=customer.email,
        )
    except ValidationError as exc:
        link = collection_selectors.agreement_just_taken(
            customer,
            **form.receivable(),
            option_key=form.cleaned_data["option"],
            provider=form.cleaned_data["provider"],
            origin=Origin.PORTAL,
            within=selectors.REPEAT_WINDOW,
        )
        if link is not None:
            # Sent twice: the first took the agreement; this one goes to pay its down
            # payment too, instead of saying the debt already has one.
            return redirect(_going_to(link))
        messages.error(request, " ".join(exc.messages))
        return redirect("collections_app:portal_statement")
    _step(
        request,
        visitor,
        customer,
        Step.AGREEMENT,
        _("%(n)s cuota(s), %(code)s") % {"n": taken.installments, "code": taken.receivable_code},
    )
    return redirect(_going_to(link))


def _money_writer(write: Callable[[object], str], currency: str) -> Callable[[object], str]:
    """Write an amount as the `money` filter does ("S/ 1,234.50"), with `write`'s speed."""
    symbol = display.currency_symbol(currency)
    return lambda value: f"{symbol} {write(value)}" if symbol else write(value)


def _going_to(link: PaymentLink) -> str:
    """Our page that sends the payer on to the gateway.

    Not a redirect straight from the form: the page's CSP allows forms to post only to
    this site (form-action 'self'), and browsers hold a form's redirects to that too.
    """
    return reverse("collections_app:portal_link", args=[link.reference]) + "?ir=1"


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
@visitor_required
def report(request: HttpRequest, visitor: session.Visitor, customer: Customer) -> HttpResponse:
    """Report a payment made some other way, with its receipt."""
    found = selectors.statement(customer)
    if request.method == "GET":
        initial = {"debt": request.GET.get("deuda", ""), "contact_email": customer.email}
        form = forms.ReportForm(statement=found, initial=initial)
        return _render(request, "report.html", _action_context(customer, form))
    form = forms.ReportForm(request.POST, request.FILES, statement=found)
    if form.is_valid():
        data = form.cleaned_data
        try:
            reported = collection_services.report_payment(
                customer=customer,
                **form.receivable(),
                amount=data["amount"],
                paid_on=data["paid_on"],
                method=data["method"],
                receipt=data["receipt"],
                origin=Origin.PORTAL,
                actor=None,
                reference=data["reference"],
                contact_email=data["contact_email"],
                paid_more=data["paid_more"],
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            money = display.money_text(reported.amount, reported.currency)
            _step(
                request,
                visitor,
                customer,
                Step.REPORTED,
                f"{reported.receivable_code}, {money}",
            )
            messages.success(
                request,
                _(
                    "Recibimos su pago informado de %(amount)s. Lo verificaremos y le "
                    "avisaremos del resultado."
                )
                % {"amount": money},
            )
            return redirect("collections_app:portal_statement")
    return _render(request, "report.html", _action_context(customer, form))


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
@visitor_required
def promise(request: HttpRequest, visitor: session.Visitor, customer: Customer) -> HttpResponse:
    """Promise to pay an amount by a day."""
    found = selectors.statement(customer)
    if request.method == "GET":
        form = forms.PromiseForm(statement=found, initial={"debt": request.GET.get("deuda", "")})
        return _render(request, "promise.html", _action_context(customer, form))
    form = forms.PromiseForm(request.POST, statement=found)
    if form.is_valid():
        data = form.cleaned_data
        try:
            made = collection_services.promise_payment(
                customer=customer,
                **form.receivable(),
                amount=data["amount"],
                promised_on=data["promised_on"],
                origin=Origin.PORTAL,
                actor=None,
            )
        except ValidationError as exc:
            made = selectors.promise_just_made(
                customer,
                **form.receivable(),
                amount=data["amount"],
                promised_on=data["promised_on"],
            )
            if made is not None:
                messages.info(
                    request,
                    _(
                        "Su compromiso de pago para el %(day)s ya quedó registrado hace un "
                        "momento; no se registró otro."
                    )
                    % {"day": made.promised_on.strftime("%d/%m/%Y")},
                )
                return redirect("collections_app:portal_statement")
            form.add_service_error(exc)
        else:
            money = display.money_text(made.amount, made.currency)
            _step(
                request,
                visitor,
                customer,
                Step.PROMISED,
                f"{made.receivable_code}, {money}, {made.promised_on:%d/%m/%Y}",
            )
            messages.success(
                request,
                _("Registramos su compromiso de pagar %(amount)s hasta el %(day)s. ¡Gracias!")
                % {"amount": money, "day": made.promised_on.strftime("%d/%m/%Y")},
            )
            return redirect("collections_app:portal_statement")
    return _render(request, "promise.html", _action_context(customer, form))


@require_http_methods(["GET", "POST"])
@login_not_required
@never_cache
@visitor_required
def callback(request: HttpRequest, visitor: session.Visitor, customer: Customer) -> HttpResponse:
    """Ask to be called."""
    if request.method == "GET":
        phone = customer.phone.as_national if customer.phone else ""
        form = forms.CallbackForm(initial={"phone": phone})
        return _render(request, "callback.html", _action_context(customer, form))
    form = forms.CallbackForm(request.POST)
    if form.is_valid():
        try:
            services.request_call(
                customer=customer,
                visit=visitor.visit,
                phone=form.cleaned_data["phone"],
                preferred_time=form.preferred_time_text(),
            )
        except ValidationError as exc:
            for field, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            session.reach(request, Step.CALLBACK)
            messages.success(request, _("Registramos su pedido de llamada. ¡Gracias!"))
            return redirect("collections_app:portal_statement")
    return _render(request, "callback.html", _action_context(customer, form))


def _action_context(customer: Customer, form: Any) -> dict[str, Any]:
    return {"customer": customer, "portal_customer": customer, "form": form}


# --- Back from the gateway -----------------------------------------------------------------


@require_http_methods(["GET"])
@login_not_required
@never_cache
def link(request: HttpRequest, reference: str) -> HttpResponse:
    """Where the gateway sends the payer back: the link's state as we know it.

    Public (the payer may come back in another browser): it shows the amount and the
    state, nothing personal, unless the session is that customer's. The gateway's query
    parameters are not trusted: only its notification (the webhook) marks a link paid.
    """
    if not _is_reference(reference):
        raise Http404
    found = selectors.link_for_reference(reference)
    if found is None:
        raise Http404
    # A link of a debt another portal serves (a written-off campaign) is shown there.
    if (elsewhere := redirects.link_page(found)) is not None:
        query = request.META.get("QUERY_STRING", "")
        return redirect(f"{elsewhere}?{query}" if query else elsewhere)
    # The page's own reload is nobody's activity: it checks the visit without renewing it,
    # and ends one that went idle as any other page does, so a page left open waiting for the
    # gateway does not keep the statement open for the next person at the device.
    is_reload = session.is_page_reload(request)
    visitor = session.visitor(request, renew=not is_reload)
    if is_reload and getattr(request, "portal_timed_out", False):
        return _to_identify(request)
    is_owner = visitor is not None and visitor.customer_id == found.customer_id
    is_waiting = found.status == PaymentLink.Status.ACTIVE and found.is_open
    context = {
        "link": found,
        "gateway_label": selectors.gateway_label(found.provider),
        "is_owner": is_owner,
        "is_waiting": is_waiting,
        "is_creating": selectors.is_being_created(found),
        # Just made in the portal: on to the gateway (a meta refresh; no script).
        "is_going": is_owner and is_waiting and request.GET.get("ir") == "1",
        "portal_customer": found.customer if is_owner else None,
    }
    return _render(request, "link.html", context)


def _is_reference(reference: str) -> bool:
    return re.fullmatch(REFERENCE, reference) is not None
