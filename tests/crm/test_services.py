from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm import services
from crm.models import Customer, Interaction
from tests.factories import BranchFactory, ChannelFactory, CustomerFactory, TagFactory


def _data(**overrides):
    data = {
        "document_type": Customer.DocumentType.DNI,
        "document_number": "45678912",
        "first_name": "Rosa",
        "last_name": "Huamán",
        "phone": "+51987654321",
        "email": "rosa@example.pe",
    }
    data.update(overrides)
    return data


def test_it_creates_a_customer_and_opens_the_timeline(asesor):
    customer = services.create_customer(actor=asesor, data=_data(), note="Vino por el auto rojo.")

    kinds = list(customer.interactions.order_by("id").values_list("kind", "actor"))
    assert kinds == [(Interaction.Kind.SYSTEM, asesor.pk), (Interaction.Kind.NOTE, asesor.pk)]
    assert customer.last_interaction_at is not None


def test_it_refuses_a_second_customer_with_the_same_document(asesor):
    services.create_customer(actor=asesor, data=_data())

    with pytest.raises(ValidationError) as excinfo:
        services.create_customer(actor=asesor, data=_data(first_name="Otra"))

    assert "Ya existe un cliente" in str(excinfo.value.message_dict["document_number"])
    assert Customer.objects.count() == 1


def test_it_allows_the_same_number_under_another_document_type(asesor):
    services.create_customer(actor=asesor, data=_data(document_number="12345678"))

    services.create_customer(
        actor=asesor,
        data=_data(document_type=Customer.DocumentType.PASSPORT, document_number="12345678"),
    )

    assert Customer.objects.count() == 2


def test_it_rejects_an_invalid_dni_and_writes_nothing(asesor):
    with pytest.raises(ValidationError) as excinfo:
        services.create_customer(actor=asesor, data=_data(document_number="123"))

    assert "8 dígitos" in str(excinfo.value.message_dict["document_number"])
    assert not Customer.objects.exists()
    assert not Interaction.objects.exists()


def test_it_records_what_changed_on_update(asesor):
    customer = CustomerFactory(city="Lima")
    branch = BranchFactory(name="Arequipa")

    services.update_customer(
        customer=customer, actor=asesor, data={"city": "Arequipa", "branch": branch}
    )

    change = customer.interactions.get()
    assert change.kind == Interaction.Kind.SYSTEM
    assert "ciudad" in change.summary and "sucursal" in change.summary
    assert change.payload["ciudad"] == "Lima → Arequipa"
    assert change.actor == asesor


def test_it_records_nothing_when_nothing_changed(asesor):
    customer = CustomerFactory(city="Lima")

    services.update_customer(customer=customer, actor=asesor, data={"city": "Lima"}, tags=[])

    assert not customer.interactions.exists()


def test_it_records_tag_changes(asesor):
    customer = CustomerFactory()
    vip = TagFactory(name="VIP")

    services.update_customer(customer=customer, actor=asesor, data={}, tags=[vip])

    assert list(customer.tags.all()) == [vip]
    assert "etiquetas" in customer.interactions.get().summary


def test_record_interaction_is_the_one_way_to_write_the_timeline(customer):
    channel = ChannelFactory(name="WhatsApp")

    interaction = services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.WHATSAPP,
        summary="Recordatorio de pago",
        channel=channel,
        direction=Interaction.Direction.OUTBOUND,
        payload={"plantilla": "recordatorio"},
    )

    assert interaction.is_system
    assert interaction.payload == {"plantilla": "recordatorio"}
    assert interaction.channel == channel


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("summary", {"kind": "note", "summary": "   "}),
        ("kind", {"kind": "telegram", "summary": "Hola"}),
        ("direction", {"kind": "note", "summary": "Hola", "direction": "sideways"}),
    ],
)
def test_record_interaction_rejects_bad_input(customer, field, kwargs):
    with pytest.raises(ValidationError) as excinfo:
        services.record_interaction(customer=customer, **kwargs)

    assert field in excinfo.value.message_dict
    assert not customer.interactions.exists()


def test_a_system_entry_is_bookkeeping_and_leaves_the_last_contact_as_it_was(customer):
    type(customer).objects.filter(pk=customer.pk).update(last_interaction_at=None)

    services.record_interaction(customer=customer, kind="system", summary="Contrato firmado")
    customer.refresh_from_db()
    assert customer.last_interaction_at is None

    services.record_interaction(customer=customer, kind="call", summary="Llamada de cobranza")
    customer.refresh_from_db()
    assert customer.last_interaction_at is not None


def test_an_older_event_does_not_move_the_last_interaction_back(customer):
    now = timezone.now()
    services.record_interaction(customer=customer, kind="note", summary="Hoy", occurred_at=now)

    services.record_interaction(
        customer=customer, kind="call", summary="Ayer", occurred_at=now - timedelta(days=1)
    )

    customer.refresh_from_db()
    assert customer.last_interaction_at == now


def test_the_last_interaction_moves_once_a_minute_at_most(customer):
    now = timezone.now()
    services.record_interaction(customer=customer, kind="bot", summary="Consulta", occurred_at=now)
    services.record_interaction(
        customer=customer, kind="bot", summary="Créditos", occurred_at=now + timedelta(seconds=50)
    )
    customer.refresh_from_db()
    within = customer.last_interaction_at

    later = now + services.LAST_INTERACTION_STEP + timedelta(seconds=1)
    services.record_interaction(
        customer=customer, kind="bot", summary="Convenios", occurred_at=later
    )
    customer.refresh_from_db()

    assert within == now
    assert customer.last_interaction_at == later
    assert customer.interactions.count() == 3  # the timeline has every one


def test_tagging_twice_records_once(customer):
    services.tag_customer(customer=customer, tag_name="Cartera castigada")
    services.tag_customer(customer=customer, tag_name="Cartera castigada")

    assert customer.tags.filter(name="Cartera castigada").exists()
    assert customer.interactions.count() == 1

    services.untag_customer(customer=customer, tag_name="Cartera castigada")

    assert not customer.tags.exists()
    assert customer.interactions.count() == 2
