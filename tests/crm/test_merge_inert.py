"""A record merged into another one (crm.merge) is inert everywhere: nothing finds it, picks
it, sends to it or writes on it; what finds it by document, phone or e-mail finds the kept
record instead."""

from decimal import Decimal

import pytest
from django.http import Http404
from django.urls import reverse

from callcenter.services import leads
from collections_app import selectors as collection_selectors
from collections_app.models import PortalCode
from collections_app.portal import services as portal_services
from collections_app.strategies import flows, segments
from credits.models import Loan
from crm import merge, selectors
from crm import messages as customer_messages
from crm.models import Customer, Interaction, Message
from integrations import api_clients
from recovery.models import Campaign
from recovery.portal import selectors as recovery_portal
from tests.api_partner import ApiPartner, api_schema
from tests.crm.test_imports import run, xlsx
from tests.factories import CustomerFactory, LoanFactory

pytestmark = pytest.mark.django_db

KEPT_DOCUMENT, MERGED_DOCUMENT = "45678912", "41234567"
KEPT_PHONE, MERGED_PHONE = "+51911111111", "+51922222222"


@pytest.fixture
def partner(db) -> ApiPartner:
    _client, token = api_clients.create_client(name="Core bancario", scopes="book")
    return ApiPartner(token, api_schema())


@pytest.fixture
def keep(db):
    return CustomerFactory(
        first_name="Rosa",
        last_name="Huamán",
        document_number=KEPT_DOCUMENT,
        phone=KEPT_PHONE,
        email="rosa@kept.pe",
        city="Lima",
    )


@pytest.fixture
def drop(keep, supervisor):
    """The same person registered again with a typo in the document; merged into `keep`,
    every value of `keep` staying (the merged record keeps its own document and contact)."""
    drop = CustomerFactory(
        first_name="Rosa",
        last_name="Huamán",
        document_number=MERGED_DOCUMENT,
        phone=MERGED_PHONE,
        email="rosa@merged.pe",
        city="",
    )
    merge.merge_customers(keep=keep, drop=drop, choices={}, actor=supervisor)
    drop.refresh_from_db()
    assert (drop.merged_into_id, drop.document_number) == (keep.pk, MERGED_DOCUMENT)
    return drop


# --- Lookups by document, phone or e-mail find the kept record ------------------------------


def test_the_api_gives_the_kept_record_for_the_merged_document(partner, keep, drop):
    found = partner.get(
        f"/cartera/clientes/dni/{MERGED_DOCUMENT}",
        route="/cartera/clientes/{tipo_documento}/{numero_documento}",
    )

    assert found.status_code == 200
    assert found.json()["numero_documento"] == KEPT_DOCUMENT


def test_the_api_list_leaves_the_merged_record_out(partner, keep, drop):
    listed = partner.get("/cartera/clientes").json()["resultados"]

    assert [row["numero_documento"] for row in listed] == [KEPT_DOCUMENT]


def test_the_portal_code_for_the_merged_document_is_the_kept_records(keep, drop):
    portal_services.request_code(document_type="dni", document_number=MERGED_DOCUMENT)

    code = PortalCode.objects.get()
    assert code.customer_id == keep.pk
    assert code.sent_to != "rosa@merged.pe"


def test_the_recovery_portal_finds_the_kept_records_campaign_by_the_merged_document(keep, drop):
    amount = Decimal("100.00")
    campaign = Campaign.objects.create(
        customer=keep,
        code="CAST-A",
        debt_amount=amount,
        discount_type="percent",
        discount_value=Decimal("0"),
        discount_amount=Decimal("0"),
        amount=amount,
    )

    assert recovery_portal.campaign_for_document("dni", MERGED_DOCUMENT) == campaign


def test_a_reply_from_the_merged_records_phone_lands_on_the_kept_record(keep, drop):
    assert selectors.customer_reached_at(phone=MERGED_PHONE) == keep
    assert selectors.customer_reached_at(email="rosa@merged.pe") == keep

    message = customer_messages.record_inbound(
        channel=customer_messages.SMS,
        provider="twilio",
        provider_message_id="SMin1",
        address=MERGED_PHONE,
        body="Pagaré el viernes",
    )

    assert message.customer_id == keep.pk


@pytest.mark.parametrize(
    "lookup",
    [
        {"document_number": MERGED_DOCUMENT},
        {"phones": [MERGED_PHONE]},
        {"email": "ROSA@merged.pe"},
    ],
)
def test_a_call_center_lead_matches_the_kept_record(keep, drop, lookup):
    found, _how = leads.find_customer_match(**lookup)

    assert found == keep


def test_an_import_row_with_the_merged_document_updates_the_kept_record(keep, drop, supervisor):
    Customer.objects.filter(pk=keep.pk).update(city="")
    header = ["Documento", "Nombres", "Ciudad"]

    batch = run(xlsx([header, [MERGED_DOCUMENT, "Rosa", "Cusco"]]), supervisor)

    keep.refresh_from_db()
    drop.refresh_from_db()
    assert (batch.updated_count, batch.created_count) == (1, 0)
    assert (keep.city, drop.city) == ("Cusco", "")


# --- Pickers and pages built on customers_visible_to -----------------------------------------


def test_no_picker_offers_the_merged_record(keep, drop, supervisor, cobranzas):
    assert list(selectors.customers_visible_to(supervisor)) == [keep]
    with pytest.raises(Http404):
        selectors.customer_for(supervisor, drop.pk)
    with pytest.raises(Http404):
        collection_selectors.customer_for(cobranzas, drop.pk)


def test_a_loan_cannot_be_opened_for_the_merged_record(client, keep, drop, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("credits:loan_create"), {"customer": drop.pk})

    assert response.status_code == 404


# --- Messages and segments ----------------------------------------------------------------------


def test_a_message_to_the_merged_record_is_skipped_saying_where_it_went(keep, drop):
    sending = customer_messages.send_customer_message(
        customer=drop, channel=customer_messages.SMS, subject="Recordatorio", body="Hola."
    )

    assert sending.status == customer_messages.SendStatus.MERGED
    assert not Message.objects.exists()
    assert sending.interaction.customer_id == drop.pk
    assert sending.interaction.summary == (
        f"SMS no enviado: Recordatorio. Este registro fue fusionado en el cliente n.º {keep.pk}."
    )


def test_a_batch_skips_the_merged_record_and_sends_to_the_others(keep, drop):
    outgoing = [
        customer_messages.Outgoing(customer=c, subject="Recordatorio", body="Hola.")
        for c in (drop, keep)
    ]

    results = customer_messages.send_customer_messages(outgoing, channel=customer_messages.SMS)

    assert [r.status for r in results] == ["merged", "queued"]
    assert list(Message.objects.values_list("customer_id", flat=True)) == [keep.pk]
    skipped = Interaction.objects.get(pk=results[0].interaction_id)
    assert skipped.summary.endswith(f"fusionado en el cliente n.º {keep.pk}.")


def test_a_segment_leaves_out_a_loan_left_on_the_merged_record(keep, drop):
    # A loan put on the merged record after the merge (imported by its old document).
    loan = LoanFactory(customer=drop)
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.ACTIVE)

    members = segments.customers(segments.Rules(), loan.created_at.date())

    assert drop.pk not in set(members.values_list("pk", flat=True))


# --- Its own URLs send to the kept record ------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_merged_record_cannot_be_edited(client, keep, drop, supervisor, method):
    client.force_login(supervisor)
    url = reverse("crm:customer_update", args=[drop.pk])

    response = getattr(client, method)(url, {"first_name": "Otra", "city": "Tacna"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("crm:customer_detail", args=[keep.pk])
    assert "fue fusionado" in response.content.decode()
    drop.refresh_from_db()
    assert (drop.first_name, drop.city) == ("Rosa", "")


def test_the_merged_record_gets_no_note(client, keep, drop, supervisor):
    client.force_login(supervisor)
    url = reverse("crm:customer_add_note", args=[drop.pk])
    entries = Interaction.objects.count()

    plain = client.post(url, {"kind": "note", "summary": "Llamó."})
    htmx = client.post(url, {"kind": "note", "summary": "Llamó."}, headers={"HX-Request": "true"})

    assert plain.status_code == 302
    assert plain["Location"] == reverse("crm:customer_detail", args=[keep.pk])
    assert htmx["HX-Redirect"] == reverse("crm:customer_detail", args=[keep.pk])
    assert Interaction.objects.count() == entries


# --- What the first pass left: the other doors by document, and the skip's readers ----------


def test_a_flow_counts_a_merged_records_skip_without_failing():
    counts = flows.count_sendings(
        [customer_messages.Sending(customer_messages.SendStatus.MERGED, None)]
    )

    assert counts["skipped_no_address"] == 1


def test_the_other_doors_by_document_find_the_kept_record(keep, drop):
    from collections_app import api as collections_api
    from crm.api_schemas import DocumentIn
    from recovery import forms as recovery_forms

    bot = collections_api._customer(
        DocumentIn(tipo_documento="dni", numero_documento=MERGED_DOCUMENT)
    )
    form = recovery_forms.CampaignForm(
        data={"document_type": "dni", "document_number": MERGED_DOCUMENT}
    )
    form.is_valid()

    assert bot == keep
    assert getattr(form, "customer", None) == keep


def test_a_merged_records_timeline_page_sends_to_the_kept_one(client, supervisor, keep, drop):
    client.force_login(supervisor)

    response = client.get(reverse("crm:customer_timeline", args=[drop.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:customer_detail", args=[keep.pk])
