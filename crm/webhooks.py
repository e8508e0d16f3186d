"""The Cal.com webhook: verify, store in the inbox, answer at once; a task processes it."""

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import calcom, webhooks
from integrations.errors import SignatureError

logger = logging.getLogger(__name__)


@csrf_exempt
@login_not_required
@require_POST
def calcom_webhook(request: HttpRequest) -> HttpResponse:
    try:
        calcom.verify_webhook(request.body, request.headers)
    except SignatureError as exc:
        logger.warning("Cal.com webhook refused: %s", exc)
        return JsonResponse({"detail": "invalid signature"}, status=403)
    try:
        parsed = calcom.parse_event(request.body)
    except ValueError as exc:
        # PING, other triggers and anything we cannot read: 200, so Cal.com stops retrying.
        logger.info("Cal.com webhook not stored: %s", exc)
        return JsonResponse({"status": "ignored"})
    event, created = webhooks.receive(
        request, provider="calcom", event_id=parsed.event_id, verify=None
    )
    return JsonResponse({"status": "stored" if created else "duplicate", "id": event.pk})
