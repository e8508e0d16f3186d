"""The Cal.com webhook: one call to the inbox's door; a task processes what it stores."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import calcom, webhooks


@csrf_exempt
@login_not_required
@require_POST
def calcom_webhook(request: HttpRequest) -> HttpResponse:
    return webhooks.receive(request, calcom.WEBHOOK)
