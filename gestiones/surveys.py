"""Surveys sent by link when a gestión closes, and their answers."""

import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gestiones import tasks
from gestiones.models import Gestion, SurveyInvitation


def invite(*, gestion: Gestion, now: datetime.datetime | None = None) -> SurveyInvitation | None:
    """Send the gestión's survey to the customer by e-mail link, once; None without one.

    Called inside the follow-up that closes the gestión; the e-mail waits for the commit.
    """
    survey = gestion.survey
    if survey is None or not survey.is_active:
        return None
    now = now or timezone.now()
    invitation, created = SurveyInvitation.objects.get_or_create(
        gestion=gestion, defaults={"survey": survey, "created_at": now}
    )
    if not created or not gestion.customer.email:
        return invitation
    link = settings.SITE_URL.rstrip("/") + reverse("survey_answer", args=[invitation.token])
    subject = _("¿Cómo le atendimos? Encuesta sobre su gestión n.º %(id)s") % {"id": gestion.pk}
    body = _(
        "Estimado(a) %(name)s:\n\nSu gestión n.º %(id)s (%(type)s) ha concluido. "
        "Nos ayudaría mucho que responda esta breve encuesta:\n\n%(link)s\n\nGracias."
    ) % {
        "name": gestion.customer.full_name,
        "id": gestion.pk,
        "type": gestion.gestion_type.name,
        "link": link,
    }
    email = gestion.customer.email
    transaction.on_commit(lambda: tasks.send_email.delay(subject, body, [email]))
    SurveyInvitation.objects.filter(pk=invitation.pk).update(sent_at=now)
    invitation.sent_at = now
    return invitation
