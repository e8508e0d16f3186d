"""The payment gateways' and messaging providers' webhooks: one call to the inbox's door each;
a task processes them (collections_app.services, collections_app.channels)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from integrations import clear, mercadopago, sms, webhooks, whatsapp
from integrations.errors import SignatureError


@csrf_exempt
@login_not_required
@require_POST
def mercadopago_webhook(request: HttpRequest) -> HttpResponse:
    return webhooks.receive(request, mercadopago.WEBHOOK)


@csrf_exempt
@login_not_required
@require_POST
def clear_webhook(request: HttpRequest) -> HttpResponse:
    return webhooks.receive(request, clear.WEBHOOK)


# What Twilio expects back from a message's webhook: TwiML. An empty <Response/> sends no
# reply; any other content type is error 12300 in Twilio's Debugger.
# https://www.twilio.com/docs/usage/webhooks/messaging-webhooks#incoming-message-webhook
# https://www.twilio.com/docs/errors/12300
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@csrf_exempt
@login_not_required
@require_POST
def twilio_webhook(request: HttpRequest) -> HttpResponse:
    """SMS delivery statuses and replies (Twilio signs them with X-Twilio-Signature).

    Stored (or ignored) calls are answered with empty TwiML; refusals keep the inbox's
    JSON answer and status.
    """
    response = webhooks.receive(request, sms.WEBHOOK)
    if response.status_code >= 300:
        return response
    return HttpResponse(EMPTY_TWIML, status=response.status_code, content_type="text/xml")


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    """WhatsApp statuses and replies; GET is Meta's subscription handshake."""
    if request.method == "GET":
        try:
            challenge = whatsapp.verify_subscription(request.GET)
        except SignatureError:
            return HttpResponseForbidden()
        return HttpResponse(challenge, content_type="text/plain")
    return webhooks.receive(request, whatsapp.WEBHOOK)
