"""A tag, branch, channel or product a segment or a campaign names is not deleted: without
it, the rule would reach more customers («Solo VIP» became every customer)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.models import Segment
from credits.models import LoanProduct
from crm import services
from crm.gestiones.models import Campaign
from crm.models import Branch, Channel, Product, Tag
from tests.factories import LoanProductFactory

SOLO_VIP = (
    "No se puede eliminar la etiqueta «VIP»: sin ella, estas reglas alcanzarían a más "
    "clientes. Quítela primero de: segmento «Solo VIP», campaña «Clientes VIP»."
)


@pytest.fixture
def vip(db) -> Tag:
    return Tag.objects.create(name="VIP")


@pytest.fixture
def solo_vip(vip) -> Segment:
    segment = Segment.objects.create(name="Solo VIP")
    segment.tags.add(vip)
    return segment


@pytest.fixture
def vip_campaign(vip) -> Campaign:
    campaign = Campaign.objects.create(name="Clientes VIP", slug="clientes-vip", kind="outbound")
    campaign.segment_tags.add(vip)
    return campaign


def test_the_tags_deletion_page_names_the_rules_and_refuses(admin_client, solo_vip, vip_campaign):
    url = reverse("admin:crm_tag_delete", args=[solo_vip.tags.get().pk])

    page = admin_client.get(url)
    admin_client.post(url, {"post": "yes"})

    assertContains(page, SOLO_VIP)
    assert Tag.objects.filter(name="VIP").exists()
    assert list(solo_vip.tags.values_list("name", flat=True)) == ["VIP"]


def test_a_tag_a_segment_leaves_out_is_kept_too(admin_client, vip):
    segment = Segment.objects.create(name="Sin VIP")
    segment.excluded_tags.add(vip)

    admin_client.post(
        reverse("admin:crm_tag_changelist"),
        {"action": "delete_selected", "_selected_action": [vip.pk], "post": "yes"},
    )

    assert Tag.objects.filter(pk=vip.pk).exists()


def test_the_service_refuses_a_tag_rules_name(solo_vip, vip_campaign, vip):
    with pytest.raises(ValidationError) as refused:
        services.delete_tags(tags=Tag.objects.filter(pk=vip.pk), actor=None)

    assert refused.value.messages == [SOLO_VIP]
    assert Tag.objects.filter(pk=vip.pk).exists()


def test_a_finished_campaign_keeps_no_tag(admin_client, vip_campaign, vip):
    Campaign.objects.filter(pk=vip_campaign.pk).update(status=Campaign.Status.FINISHED)

    admin_client.post(reverse("admin:crm_tag_delete", args=[vip.pk]), {"post": "yes"})

    assert not Tag.objects.filter(pk=vip.pk).exists()


def test_a_tag_no_rule_names_is_deleted(admin_client, vip):
    Tag.objects.create(name="Otra")
    Segment.objects.create(name="Todos")

    services.delete_tags(tags=Tag.objects.filter(pk=vip.pk), actor=None)

    assert list(Tag.objects.values_list("name", flat=True)) == ["Otra"]


def test_a_branch_a_segment_names_is_not_deleted(admin_client, db):
    branch = Branch.objects.create(name="Arequipa", code="aqp")
    Segment.objects.create(name="Sur").branches.add(branch)

    page = admin_client.get(reverse("admin:crm_branch_delete", args=[branch.pk]))
    admin_client.post(reverse("admin:crm_branch_delete", args=[branch.pk]), {"post": "yes"})

    assertContains(page, "Quítela primero de: segmento «Sur».")
    assert Branch.objects.filter(pk=branch.pk).exists()


def test_a_channel_a_draft_campaigns_segment_names_is_not_deleted(admin_client, db):
    channel = Channel.objects.create(name="Call center", code="call")
    campaign = Campaign.objects.create(name="Recontacto", slug="recontacto", kind="outbound")
    campaign.segment_channels.add(channel)

    admin_client.post(
        reverse("admin:crm_channel_changelist"),
        {"action": "delete_selected", "_selected_action": [channel.pk], "post": "yes"},
    )

    assert Channel.objects.filter(pk=channel.pk).exists()


def test_a_product_a_campaigns_segment_names_is_not_deleted(admin_client, db):
    product = Product.objects.create(name="Moto", code="moto")
    campaign = Campaign.objects.create(name="Motos", slug="motos", kind="outbound")
    campaign.segment_products.add(product)

    page = admin_client.get(reverse("admin:crm_product_delete", args=[product.pk]))
    admin_client.post(reverse("admin:crm_product_delete", args=[product.pk]), {"post": "yes"})

    assertContains(page, "Quítelo primero de: campaña «Motos».")
    assert Product.objects.filter(pk=product.pk).exists()


def test_a_branch_no_rule_names_is_still_deleted(admin_client, db):
    branch = Branch.objects.create(name="Cusco", code="cus")

    admin_client.post(reverse("admin:crm_branch_delete", args=[branch.pk]), {"post": "yes"})

    assert not Branch.objects.filter(pk=branch.pk).exists()


def test_a_loan_product_a_segment_names_is_not_deleted(admin_client, db):
    product = LoanProductFactory(name="Vehicular")
    Segment.objects.create(name="Vehiculares").products.add(product)

    page = admin_client.get(reverse("admin:credits_loanproduct_delete", args=[product.pk]))
    admin_client.post(
        reverse("admin:credits_loanproduct_delete", args=[product.pk]), {"post": "yes"}
    )

    assertContains(
        page,
        "No se puede eliminar el producto de crédito «Vehicular»: sin él, estas reglas "
        "alcanzarían a más clientes. Quítelo primero de: segmento «Vehiculares».",
    )
    assert LoanProduct.objects.filter(pk=product.pk).exists()


def test_a_loan_product_no_segment_names_is_still_deleted(admin_client, db):
    product = LoanProductFactory(name="Vehicular")

    admin_client.post(
        reverse("admin:credits_loanproduct_delete", args=[product.pk]), {"post": "yes"}
    )

    assert not LoanProduct.objects.filter(pk=product.pk).exists()
