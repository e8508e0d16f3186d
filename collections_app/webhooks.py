"""The payment gateways' webhooks: one call to the inbox's door each; a task processes them."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import clear, mercadopago, webhooks


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
