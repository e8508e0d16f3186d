"""The Kommo webhook: a secret path token, then the inbox's door checks the account."""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import kommo, webhooks


@csrf_exempt
@login_not_required
@require_POST
def kommo_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    if not kommo.path_token_matches(secret):
        # The same answer as an unknown URL: a wrong token reveals nothing.
        raise Http404
    return webhooks.receive(request, kommo.WEBHOOK)
