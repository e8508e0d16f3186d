"""A deletion the service refuses in admin says only why, and leaves no «eliminado» behind."""

import pytest
from django.contrib import messages
from django.contrib.admin.models import DELETION, LogEntry
from django.db.models.signals import post_save
from django.urls import reverse

from credits.models import LoanProduct
from crm.gestiones import services as gestion_services
from crm.gestiones.models import Campaign, Gestion, GestionType
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory


def said(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


def deletions_logged() -> list[str]:
    return list(LogEntry.objects.filter(action_flag=DELETION).values_list("object_repr", flat=True))


@pytest.fixture
def reached(db) -> Campaign:
    """A campaign that opened a gestión: its service keeps it."""
    campaign = Campaign.objects.create(name="Renovación", slug="renovacion", kind="outbound")
    gestion_type = GestionType.objects.create(name="Renovación", code="renovacion")
    gestion_type.states.create(name="Nuevo", is_initial=True)
    gestion = gestion_services.create_gestion(customer=CustomerFactory(), gestion_type=gestion_type)
    Gestion.objects.filter(pk=gestion.pk).update(campaign=campaign)
    return campaign


REFUSAL = (
    "La campaña «Renovación» ya llegó a 0 clientes y abrió 1 gestiones; sus resultados se "
    "conservan: no se puede eliminar. Finalícela para que no siga."
)


def test_a_refused_deletion_shows_only_the_refusal(admin_client, reached):
    url = reverse("admin:gestiones_campaign_delete", args=[reached.pk])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert said(response) == [(messages.ERROR, REFUSAL)]
    assert response.redirect_chain[-1][0] == reverse(
        "admin:gestiones_campaign_change", args=[reached.pk]
    )
    assert Campaign.objects.filter(pk=reached.pk).exists()
    assert deletions_logged() == []


def test_deleting_several_says_which_were_deleted_and_which_were_not(admin_client, reached):
    draft = Campaign.objects.create(name="Borrador", slug="borrador", kind="outbound")

    response = admin_client.post(
        reverse("admin:gestiones_campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [reached.pk, draft.pk], "post": "yes"},
        follow=True,
    )

    assert said(response) == [
        (messages.ERROR, REFUSAL),
        (messages.WARNING, "Se eliminó 1 de 2 campañas; no se eliminaron: «Renovación»."),
    ]
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Renovación"]
    assert deletions_logged() == ["Borrador"]


def test_deleting_several_that_are_all_refused_is_an_error(admin_client, reached):
    response = admin_client.post(
        reverse("admin:gestiones_campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [reached.pk], "post": "yes"},
        follow=True,
    )

    assert said(response) == [
        (messages.ERROR, REFUSAL),
        (messages.ERROR, "Se eliminaron 0 de 1 campaña; no se eliminaron: «Renovación»."),
    ]


def test_deleting_several_that_all_go_keeps_djangos_message(admin_client):
    Campaign.objects.create(name="A", slug="a", kind="outbound")
    Campaign.objects.create(name="B", slug="b", kind="outbound")

    response = admin_client.post(
        reverse("admin:gestiones_campaign_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": list(Campaign.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
        follow=True,
    )

    assert [level for level, _text in said(response)] == [messages.SUCCESS]
    assert not Campaign.objects.exists()
    assert sorted(deletions_logged()) == ["A", "B"]


def test_a_product_a_loan_took_while_it_was_deleted_is_kept_and_only_that_is_said(
    admin_client,
):
    product = LoanProductFactory(name="Vehicular")

    def loan_meanwhile(sender, instance, **kwargs):
        # Someone else's loan on the product, made after the confirmation was checked.
        if instance.action_flag == DELETION:
            LoanFactory(product=product)

    post_save.connect(loan_meanwhile, sender=LogEntry)
    try:
        response = admin_client.post(
            reverse("admin:credits_loanproduct_delete", args=[product.pk]),
            {"post": "yes"},
            follow=True,
        )
    finally:
        post_save.disconnect(loan_meanwhile, sender=LogEntry)

    assert said(response) == [
        (messages.ERROR, "No se puede eliminar el producto «Vehicular»: lo usan créditos.")
    ]
    assert LoanProduct.objects.filter(pk=product.pk).exists()
    assert deletions_logged() == []


def test_a_product_no_loan_uses_is_deleted_and_said_so(admin_client):
    product = LoanProductFactory(name="Vehicular")

    response = admin_client.post(
        reverse("admin:credits_loanproduct_delete", args=[product.pk]), {"post": "yes"}, follow=True
    )

    assert [level for level, _text in said(response)] == [messages.SUCCESS]
    assert not LoanProduct.objects.filter(pk=product.pk).exists()
    assert deletions_logged() == ["Vehicular"]
