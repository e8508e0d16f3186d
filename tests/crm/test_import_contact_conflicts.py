"""A customer import (file or API) fills a phone or e-mail the customer lacks, but replaces
one they have only when a person accepts it on the import's page, as with names."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse

from collections_app.models import PortalCode
from collections_app.portal import services as portal_services
from crm.imports import services
from crm.models import Customer, ImportRecord, Interaction
from tests.crm.test_book_api import marta, openapi, partner, send  # noqa: F401
from tests.crm.test_imports import run, xlsx
from tests.factories import CustomerFactory, LoanFactory

pytestmark = pytest.mark.django_db

HEADER = ["Documento", "Nombres", "Celular", "Teléfono alternativo", "Correo", "Ciudad"]


def rosa(**fields) -> Customer:
    return CustomerFactory(
        document_number="41234567",
        first_name="Rosa",
        last_name="Ccori",
        **{"phone": "", "phone_secondary": "", "email": "", "city": "", **fields},
    )


def row(phone="", second="", email="", city=""):
    return ["41234567", "Rosa", phone, second, email, city]


def last_entry(customer: Customer) -> Interaction:
    return Interaction.objects.filter(customer=customer).order_by("-pk").first()


def test_a_phone_second_phone_and_email_the_customer_lacks_are_filled(supervisor):
    customer = rosa()

    batch = run(xlsx([HEADER, row("987654321", "014567890", "rosa@correo.pe")]), supervisor)

    customer.refresh_from_db()
    assert (str(customer.phone), str(customer.phone_secondary), customer.email) == (
        "+51987654321",
        "+5114567890",
        "rosa@correo.pe",
    )
    assert (batch.updated_count, batch.conflict_count) == (1, 0)
    assert last_entry(customer).payload == {
        "celular": "— → +51987654321",
        "teléfono alternativo": "— → +5114567890",
        "correo electrónico": "— → rosa@correo.pe",
    }


def test_what_is_missing_is_filled_in_the_same_row_whose_phone_waits(supervisor):
    customer = rosa(phone="+51987654321")

    batch = run(xlsx([HEADER, row("912345678", "014567890", "rosa@correo.pe")]), supervisor)

    customer.refresh_from_db()
    assert (str(customer.phone), str(customer.phone_secondary), customer.email) == (
        "+51987654321",
        "+5114567890",
        "rosa@correo.pe",
    )
    assert (batch.updated_count, batch.conflict_count) == (1, 1)
    pending = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)
    assert pending.conflict == {"phone": ["+51987654321", "+51912345678"]}


def test_another_phone_second_phone_or_email_waits_for_a_person_and_the_city_is_updated(
    supervisor,
):
    customer = rosa(phone="+51987654321", phone_secondary="+5114567890", email="rosa@correo.pe")

    batch = run(
        xlsx([HEADER, row("912345678", "017654321", "otra@persona.pe", "Puno")]), supervisor
    )

    customer.refresh_from_db()
    assert (str(customer.phone), str(customer.phone_secondary), customer.email) == (
        "+51987654321",
        "+5114567890",
        "rosa@correo.pe",
    )
    assert customer.city == "Puno"
    assert (batch.updated_count, batch.conflict_count) == (1, 1)
    pending = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)
    assert pending.conflict == {
        "phone": ["+51987654321", "+51912345678"],
        "phone_secondary": ["+5114567890", "+5117654321"],
        "email": ["rosa@correo.pe", "otra@persona.pe"],
    }
    waiting = Interaction.objects.get(customer=customer, summary__contains="por decidir")
    assert waiting.summary == (
        f"La importación #{batch.pk} (clientes.xlsx) trae otros datos de identidad o contacto "
        "(celular, teléfono alternativo, correo electrónico): quedan por decidir."
    )
    assert waiting.payload == {
        "Celular": "+51987654321 → +51912345678",
        "Teléfono alternativo": "+5114567890 → +5117654321",
        "Correo electrónico": "rosa@correo.pe → otra@persona.pe",
    }
    updated = Interaction.objects.get(customer=customer, summary__startswith="Datos actualizados")
    assert updated.payload == {"ciudad": "— → Puno"}


def test_the_same_number_written_another_way_and_the_same_email_in_capitals_change_nothing(
    supervisor,
):
    customer = rosa(phone="+51987654321", phone_secondary="+5114567890", email="Rosa@Correo.pe")

    batch = run(xlsx([HEADER, row("987 654 321", "(01) 456-7890", "ROSA@correo.PE")]), supervisor)

    customer.refresh_from_db()
    assert (batch.updated_count, batch.unchanged_count, batch.conflict_count) == (0, 1, 0)
    assert customer.email == "Rosa@Correo.pe"  # the stored spelling stays
    assert not Interaction.objects.filter(customer=customer).exists()


def test_accepting_applies_the_new_phone_and_email_and_the_timeline_says_old_and_new(
    supervisor,
):
    customer = rosa(phone="+51987654321", email="rosa@correo.pe")
    run(xlsx([HEADER, row("912345678", "", "otra@persona.pe")]), supervisor)
    record = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)

    services.decide_conflict(record=record, accept=True, actor=supervisor)

    customer.refresh_from_db()
    assert (str(customer.phone), customer.email) == ("+51912345678", "otra@persona.pe")
    entry = last_entry(customer)
    assert (entry.actor, entry.summary) == (
        supervisor,
        "Datos actualizados: celular, correo electrónico",
    )
    assert entry.payload == {
        "celular": "+51987654321 → +51912345678",
        "correo electrónico": "rosa@correo.pe → otra@persona.pe",
    }


def test_rejecting_keeps_the_phone_and_email_and_the_timeline_says_so(supervisor):
    customer = rosa(phone="+51987654321", email="rosa@correo.pe")
    batch = run(xlsx([HEADER, row("912345678", "", "otra@persona.pe")]), supervisor)
    record = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)

    services.decide_conflict(record=record, accept=False, actor=supervisor)

    customer.refresh_from_db()
    assert (str(customer.phone), customer.email) == ("+51987654321", "rosa@correo.pe")
    entry = last_entry(customer)
    assert entry.summary == (
        f"Se rechazaron los datos que traía la importación #{batch.pk} "
        "(celular, correo electrónico)"
    )
    assert entry.payload == {
        "Celular": "+51987654321 → +51912345678 (rechazado)",
        "Correo electrónico": "rosa@correo.pe → otra@persona.pe (rechazado)",
    }


def test_the_same_file_again_asks_nothing_twice_and_changes_nothing(supervisor):
    customer = rosa(phone="+51987654321")
    content = xlsx([HEADER, row("912345678", "", "rosa@correo.pe")])
    first = run(content, supervisor)
    assert (first.updated_count, first.conflict_count) == (1, 1)  # the e-mail filled
    entries = Interaction.objects.filter(customer=customer).count()

    again = run(content, supervisor)

    assert (again.updated_count, again.unchanged_count, again.conflict_count) == (0, 1, 0)
    assert ImportRecord.objects.filter(conflict_status=ImportRecord.Conflict.PENDING).count() == 1
    assert Interaction.objects.filter(customer=customer).count() == entries


def test_undo_empties_the_phone_it_filled_and_drops_the_email_left_to_decide(supervisor):
    customer = rosa(email="rosa@correo.pe")
    batch = run(xlsx([HEADER, row("912345678", "", "otra@persona.pe")]), supervisor)
    customer.refresh_from_db()
    assert (str(customer.phone), batch.conflict_count) == ("+51912345678", 1)

    services.undo_import(batch=batch, actor=supervisor)

    customer.refresh_from_db()
    assert (customer.phone, customer.email) == ("", "rosa@correo.pe")
    entries = Interaction.objects.filter(customer=customer).order_by("-pk")
    assert entries[0].summary == (
        f"Se deshizo la importación #{batch.pk}: los datos que traía (correo electrónico) ya "
        "no quedan por decidir"
    )
    assert entries[0].payload == {
        "Correo electrónico": "rosa@correo.pe → otra@persona.pe (descartado)"
    }
    assert entries[1].payload == {"celular": "+51912345678 → —"}
    record = batch.records.get(conflict_status=ImportRecord.Conflict.REJECTED)
    assert record.decided_by == supervisor


def test_the_api_without_a_person_does_not_replace_a_borrowers_phone_and_email(
    partner,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    borrower = CustomerFactory(
        document_number="41234567",
        first_name="Marta",
        last_name="Ccori Vela",
        phone="+51987654321",
        email="marta@correo.pe",
    )
    LoanFactory(customer=borrower)

    status = send(
        partner,
        "clientes",
        {"filas": [marta(celular="912345678", correo_electronico="otra@persona.pe")]},
        django_capture_on_commit_callbacks,
    )

    borrower.refresh_from_db()
    portal_services.request_code(document_type="dni", document_number="41234567")
    sent_to = PortalCode.objects.get(customer=borrower).sent_to
    # The change waits for a person, and the portal's code still goes to the address on file.
    assert (str(borrower.phone), borrower.email, sent_to, status["conflictos"]) == (
        "+51987654321",
        "marta@correo.pe",
        "marta@correo.pe",
        1,
    )
    pending = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)
    assert pending.conflict == {
        "phone": ["+51987654321", "+51912345678"],
        "email": ["marta@correo.pe", "otra@persona.pe"],
    }
    waiting = Interaction.objects.get(customer=borrower, summary__contains="por decidir")
    assert waiting.actor is None


def test_a_phone_changed_after_the_import_is_not_overwritten_by_accepting(supervisor):
    customer = rosa(phone="+51987654321")
    run(xlsx([HEADER, row("912345678")]), supervisor)
    record = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)
    Customer.objects.filter(pk=customer.pk).update(phone="+51955555555")

    with pytest.raises(ValidationError, match=r"cambiaron después de la importación \(celular\)"):
        services.decide_conflict(record=record, accept=True, actor=supervisor)

    customer.refresh_from_db()
    assert str(customer.phone) == "+51955555555"


def test_a_decision_waits_for_the_customers_lock_before_comparing_its_values(
    supervisor, monkeypatch
):
    """Two people deciding at once: the other's accepted phone lands while this decision
    waits for the customer's row (modelled where the lock is taken); this one must then
    see it and refuse, not write over it."""
    customer = rosa(phone="+51987654321")
    run(xlsx([HEADER, row("912345678")]), supervisor)
    record = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)
    lock = QuerySet.select_for_update
    waited = []

    def select_for_update(queryset, *args, **kwargs):
        if queryset.model is Customer and not waited:
            waited.append(True)  # the other person's decision commits while this one waits
            Customer.objects.filter(pk=customer.pk).update(phone="+51955555555")
        return lock(queryset, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "select_for_update", select_for_update)

    # (The other person's change is rolled back with this refusal: it was modelled inside it.)
    with pytest.raises(ValidationError, match="cambiaron después"):
        services.decide_conflict(record=record, accept=True, actor=supervisor)
    assert waited


def test_the_import_page_lists_the_phone_and_email_to_decide(client, supervisor):
    rosa(phone="+51987654321", email="rosa@correo.pe")
    batch = run(xlsx([HEADER, row("912345678", "", "otra@persona.pe")]), supervisor)
    client.force_login(supervisor)

    html = " ".join(
        client.get(reverse("crm:import_detail", args=[batch.pk])).content.decode().split()
    )

    assert "Datos de identidad o contacto distintos a los registrados: decida cada uno" in html
    assert "1 fila con otros datos de identidad o contacto, a decidir" in html.replace(
        '</div><div class="small text-body-secondary">', " "
    )
    assert "Celular: <del>+51987654321</del> → <strong>+51912345678</strong>" in html
    assert (
        "Correo electrónico: <del>rosa@correo.pe</del> → <strong>otra@persona.pe</strong>" in html
    )
    assert "nombres" not in html.lower().split('id="import-conflicts"')[1].split("</ul>")[0]
