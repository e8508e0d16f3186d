"""The Kommo webhook: a secret path token and the account's subdomain authenticate it."""

import hmac
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import kommo, webhooks
from integrations.errors import SignatureError

logger = logging.getLogger(__name__)


@csrf_exempt
@login_not_required
@require_POST
def kommo_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    configured = settings.KOMMO_WEBHOOK_SECRET
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    if not configured or not hmac.compare_digest(secret.encode(), configured.encode()):
        # The same answer as an unknown URL: a wrong token reveals nothing.
        raise Http404
    try:
        webhook = kommo.parse_webhook(request.body)
    except ValueError as exc:
        logger.info("Kommo webhook not stored: %s", exc)
        return JsonResponse({"detail": "not a Kommo webhook"}, status=400)
    try:
        kommo.verify_account(webhook)
    except SignatureError as exc:
        logger.warning("Kommo webhook refused: %s", exc)
        return JsonResponse({"detail": "unknown account"}, status=403)
    if not webhook.leads:
        # Contacts, tasks, notes…: answered so Kommo stops retrying; nothing to do.
        return JsonResponse({"status": "ignored"})
    event, created = webhooks.receive(
        request, provider="kommo", event_id=webhook.event_id, verify=None
    )
    return JsonResponse({"status": "stored" if created else "duplicate", "id": event.pk})
