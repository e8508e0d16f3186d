"""An advisor reassigned away from a gestión: their «Se le asignó la gestión #N…» is marked
read, and a notification that leads to a gestión no longer theirs says so instead of a 404."""

import datetime

from django.urls import reverse
from django.utils import timezone

from crm.gestiones.models import Notification
from crm.gestiones.notifications import services as notification_services
from crm.gestiones.workload import services as workload_services
from tests.factories import CustomerFactory


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_reassigning_marks_the_previous_agents_assignment_read(
    make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(agent=asesor)
    other = make_gestion(agent=asesor, customer=CustomerFactory())
    late = notification_services.notify(
        recipients=[asesor], gestion=gestion, kind=Notification.Kind.LATE, message="Atrasada."
    )[0]

    workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)

    assigned = Notification.objects.get(
        recipient=asesor, gestion=gestion, kind=Notification.Kind.ASSIGNED
    )
    assert assigned.read_at is not None
    # The new agent's is unread; the other gestión's and other kinds stay as they were.
    assert (
        Notification.objects.get(
            recipient=asesor2, gestion=gestion, kind=Notification.Kind.ASSIGNED
        ).read_at
        is None
    )
    assert (
        Notification.objects.get(
            recipient=asesor, gestion=other, kind=Notification.Kind.ASSIGNED
        ).read_at
        is None
    )
    late.refresh_from_db()
    assert late.read_at is None


def test_a_notification_read_before_keeps_its_time(make_gestion, asesor, asesor2, supervisor):
    gestion = make_gestion(agent=asesor)
    read_at = timezone.now() - datetime.timedelta(days=1)
    Notification.objects.filter(recipient=asesor).update(read_at=read_at)

    workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)

    assert Notification.objects.get(recipient=asesor, gestion=gestion).read_at == read_at


def test_the_unread_count_drops_once_the_gestion_is_reassigned(
    client, make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)
    before = client.get(reverse("gestiones:notifications_badge")).content.decode()

    workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)

    after = client.get(reverse("gestiones:notifications_badge")).content.decode()
    assert 'id="unread-count">1<' in before
    assert 'id="unread-count">1<' not in after


def test_opening_a_notification_of_a_gestion_no_longer_theirs_says_so(
    client, make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(agent=asesor)
    notification = Notification.objects.get(recipient=asesor, gestion=gestion)
    workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)
    client.force_login(asesor)

    response = client.get(
        reverse("gestiones:notification_open", args=[notification.pk]), follow=True
    )

    assert response.redirect_chain == [(reverse("gestiones:notifications"), 302)]
    assert f"La gestión #{gestion.pk} ya no está a su cargo." in shown(response)


def test_a_late_alert_of_a_gestion_handed_over_says_so_too(
    client, make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(agent=asesor)
    late = notification_services.notify(
        recipients=[asesor], gestion=gestion, kind=Notification.Kind.LATE, message="Atrasada."
    )[0]
    workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)
    client.force_login(asesor)

    response = client.get(reverse("gestiones:notification_open", args=[late.pk]))

    assert response.url == reverse("gestiones:notifications")
    late.refresh_from_db()
    assert late.read_at is not None


def test_a_gestion_still_visible_opens_as_before(client, make_gestion, asesor, asesor2):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)
    notification = Notification.objects.get(recipient=asesor, gestion=gestion)

    response = client.get(reverse("gestiones:notification_open", args=[notification.pk]))

    assert response.url == gestion.get_absolute_url()


def test_someone_elses_notification_is_still_not_found(client, make_gestion, asesor, asesor2):
    make_gestion(agent=asesor)
    notification = Notification.objects.get(recipient=asesor)
    client.force_login(asesor2)

    response = client.get(reverse("gestiones:notification_open", args=[notification.pk]))

    assert response.status_code == 404
