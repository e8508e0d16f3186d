"""People who leave: admin's delete page says to deactivate them, and a deactivation ends
their sessions for good."""

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones.models import Notification
from tests.factories import CustomerFactory, InteractionFactory, UserFactory


def test_the_delete_page_of_a_person_who_worked_says_to_deactivate_not_lack_of_permission(
    admin_client, asesor
):
    CustomerFactory(advisor=asesor)
    InteractionFactory(customer=CustomerFactory(), actor=asesor)
    # Rows whose admin is read-only (nobody deletes them there): Django listed them as
    # «su cuenta no tiene permiso para borrar…» instead of the reason.
    Notification.objects.create(recipient=asesor, kind=Notification.Kind.INFO, message="Hola")
    url = reverse("admin:auth_user_delete", args=[asesor.pk])

    page = admin_client.get(url)
    admin_client.post(url, {"post": "yes"})
    bulk = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [asesor.pk]},
    )

    for shown in (page, bulk):
        assertContains(shown, "desactívelo (desmarque «Activo») en lugar de borrarlo")
        assertNotContains(shown, "no tiene permiso")
    assert get_user_model().objects.filter(pk=asesor.pk).exists()
    assert Notification.objects.filter(recipient=asesor).exists()


def test_deactivating_a_person_ends_their_sessions_so_reactivating_does_not_revive_them(asesor):
    laptop, phone = Client(), Client()
    laptop.force_login(asesor)
    phone.force_login(asesor)
    colleague = Client()
    colleague.force_login(UserFactory(username="asesor9", role="Asesor"))
    assert laptop.get(reverse("gestiones:my_work")).status_code == 200

    asesor.is_active = False
    asesor.save()
    asesor.is_active = True
    asesor.save()

    for client in (laptop, phone):
        response = client.get(reverse("gestiones:my_work"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert colleague.get(reverse("gestiones:my_work")).status_code == 200


def test_deactivating_in_admin_ends_the_sessions(admin_client, asesor):
    laptop = Client()
    laptop.force_login(asesor)
    page = admin_client.get(reverse("admin:auth_user_change", args=[asesor.pk]))
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("groups", "user_permissions", "password")
    }
    data |= {
        "groups": [g.pk for g in asesor.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": asesor.date_joined.strftime("%d/%m/%Y"),
        "date_joined_1": asesor.date_joined.strftime("%H:%M:%S"),
    }
    data.pop("is_active")

    response = admin_client.post(reverse("admin:auth_user_change", args=[asesor.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    asesor.refresh_from_db()
    assert not asesor.is_active
    asesor.is_active = True
    asesor.save()
    assert laptop.get(reverse("gestiones:my_work")).status_code == 302


def test_two_people_cannot_share_an_e_mail_any_case(admin_client, asesor):
    # Cal.com's bookings go to the advisor whose e-mail is the organizer's: shared, every
    # booking went to the older account.
    asesor.email = "lrojas@cartera.pe"
    asesor.save()
    other = UserFactory(username="mflores", email="mflores@cartera.pe")
    url = reverse("admin:auth_user_change", args=[other.pk])
    page = admin_client.get(url)
    data = {
        name: field.value() if field.value() is not None else ""
        for name, field in (
            (n, page.context["adminform"].form[n]) for n in page.context["adminform"].form.fields
        )
        if name not in ("password", "groups", "user_permissions")
    }
    data.update(email="LROJAS@cartera.pe", groups=[], user_permissions=[])

    refused = admin_client.post(url, data)

    assertContains(refused, "Ese correo ya es de")
    other.refresh_from_db()
    assert other.email == "mflores@cartera.pe"


def test_only_the_save_that_deactivates_reads_the_sessions(asesor, monkeypatch):
    # Every live session (the portal's too) is read and decoded to find a person's: a later
    # save of someone already inactive (a rename) has nothing left to end.
    from lib import auth

    calls = []
    monkeypatch.setattr(auth, "end_sessions", lambda pk: calls.append(pk) or 0)

    asesor.is_active = False
    asesor.save()
    asesor.first_name = "Luis Alberto"
    asesor.save()
    asesor.save(update_fields=["is_active"])

    assert calls == [asesor.pk]
