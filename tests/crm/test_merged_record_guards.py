"""A record merged into another one (crm.merge) is inert below the views too: the CRM's
services refuse a person's change to it naming the kept record, the admin shows it without
saving, and the merge's own entry counts what really moved once the apps' handlers ran."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst

from collections_app.models import Conversation
from crm import merge, services
from crm.gestiones.models import Campaign as MarketingCampaign
from crm.gestiones.models import CampaignTarget
from crm.models import OPT_OUT_TAG, Customer, Interaction
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

REFUSAL = "Este cliente se fusionó con Rosa Huamán (DNI 45678912), cliente n.º {pk}"


@pytest.fixture
def keep(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number="45678912", city="Lima"
    )


@pytest.fixture
def drop(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number="41234567", city="Cusco"
    )


@pytest.fixture
def merged(keep, drop, supervisor):
    """`drop` as a page read it before it was merged into `keep`: its `merged_into_id` is
    still None in memory, so only a service that reads the row under its lock refuses."""
    stale = Customer.objects.get(pk=drop.pk)
    merge.merge_customers(keep=keep, drop=drop, choices={}, actor=supervisor)
    assert stale.merged_into_id is None
    return stale


def refused(keep):
    return pytest.raises(ValidationError, match=re.escape(REFUSAL.format(pk=keep.pk)))


def unchanged(drop):
    """What the merged record holds and what its timeline has, to compare after a refusal."""
    row = Customer.objects.filter(pk=drop.pk).values(
        "first_name", "city", "has_opted_out", "updated_at"
    )[0]
    tags = list(Customer.tags.through.objects.filter(customer_id=drop.pk).values_list("tag_id"))
    return row, tags, Interaction.objects.count()


# --- The services refuse a person's change to the merged record ------------------------------


def test_a_note_on_the_merged_record_is_refused_naming_the_kept_one(keep, merged, asesor):
    before = unchanged(merged)

    with refused(keep):
        services.add_note(
            customer=merged, kind="note", summary="Llamó.", direction="internal", actor=asesor
        )

    assert unchanged(merged) == before


def test_the_merged_record_is_not_updated(keep, merged, supervisor):
    before = unchanged(merged)

    with refused(keep):
        services.update_customer(
            customer=merged,
            actor=supervisor,
            data={"first_name": "Otra", "city": "Tacna", "has_opted_out": True},
            tags=[TagFactory(name="VIP")],
        )

    assert unchanged(merged) == before


@pytest.mark.parametrize("tag_name", ["VIP", OPT_OUT_TAG])
def test_the_merged_record_is_not_tagged_or_untagged(keep, merged, asesor, tag_name):
    before = unchanged(merged)

    with refused(keep):
        services.tag_customer(customer=merged, tag_name=tag_name, actor=asesor)
    with refused(keep):
        services.untag_customer(customer=merged, tag_name=tag_name, actor=asesor)

    assert unchanged(merged) == before


def test_a_person_does_not_change_the_merged_records_consent(keep, merged, asesor):
    before = unchanged(merged)

    with refused(keep):
        services.set_contact_opt_out(customer=merged, opted_out=True, actor=asesor)

    assert unchanged(merged) == before


# --- The admin shows the merged record and saves nothing --------------------------------------


def test_the_admin_shows_the_merged_record_read_only_saying_where_it_went(
    admin_client, keep, merged
):
    url = reverse("admin:crm_customer_change", args=[merged.pk])

    shown = admin_client.get(url)
    sent = admin_client.post(url, {"first_name": "Otra", "city": "Tacna", "_save": "Guardar"})

    page = shown.content.decode()
    assert shown.status_code == 200
    assert REFUSAL.format(pk=keep.pk) in page
    assert reverse("admin:crm_customer_change", args=[keep.pk]) in page
    assert 'name="first_name"' not in page
    assert reverse("admin:crm_customer_delete", args=[merged.pk]) not in page
    assert sent.status_code == 403
    merged.refresh_from_db()
    assert (merged.first_name, merged.city) == ("Rosa", "Cusco")


# --- The merge counts what really moved ------------------------------------------------------


def test_the_merge_entry_counts_what_moved_after_the_handlers_ran(keep, drop, supervisor):
    now = timezone.now()
    Conversation.objects.create(customer=keep, message_count=1, last_message_at=now)
    Conversation.objects.create(customer=drop, message_count=1, last_message_at=now - timedelta(1))
    shared, other = TagFactory(name="VIP"), TagFactory(name="Moroso")
    keep.tags.add(shared)
    drop.tags.add(shared, other)
    both = MarketingCampaign.objects.create(
        name="Ambos", slug="ambos", kind=MarketingCampaign.Kind.OUTBOUND
    )
    only_drop = MarketingCampaign.objects.create(
        name="Solo uno", slug="solo-uno", kind=MarketingCampaign.Kind.OUTBOUND
    )
    CampaignTarget.objects.create(campaign=both, customer=keep)
    CampaignTarget.objects.create(campaign=both, customer=drop)
    CampaignTarget.objects.create(campaign=only_drop, customer=drop)
    target_label = capfirst(str(CampaignTarget._meta.verbose_name_plural))

    merge.merge_customers(keep=keep, drop=drop, choices={}, actor=supervisor)

    entry = Interaction.objects.filter(customer=keep).order_by("-pk").first()
    brought = dict(
        part.rsplit(": ", 1) for part in entry.payload["Traído de ese registro"].split("; ")
    )
    # The conversation was folded into the kept one, not moved; one tag and one target
    # were the kept record's already.
    assert "Conversaciones" not in brought
    assert brought["Etiquetas"] == "1"
    assert brought[target_label] == "1"


def test_a_note_sent_while_the_record_is_merged_goes_to_the_kept_one(
    client, keep, merged, asesor, monkeypatch
):
    # The page's request read the record before the merge committed (`merged` is stale).
    from crm import views

    monkeypatch.setattr(views.selectors, "customer_or_merged_for", lambda user, pk: merged)
    client.force_login(asesor)
    before = Interaction.objects.count()

    response = client.post(
        reverse("crm:customer_add_note", args=[merged.pk]),
        {"kind": "note", "summary": "Llamó.", "direction": "internal"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("crm:customer_detail", args=[keep.pk])
    assert Interaction.objects.count() == before


def test_a_loan_for_the_merged_record_is_refused(keep, merged, supervisor):
    # The other apps' services that take the customer's row (a loan, a gestión, a link, a
    # promise, a reply) take it through lock_current_customer: a page read before the
    # merge committed does not write on the merged record.
    from datetime import date
    from decimal import Decimal

    from credits.services import loans as loan_services
    from tests.factories import LoanProductFactory

    with refused(keep):
        loan_services.create_loan(
            actor=supervisor,
            customer=merged,
            product=LoanProductFactory(),
            principal=Decimal("5000.00"),
            term=12,
            start_date=date(2026, 1, 5),
        )

    assert not merged.loans.exists()
