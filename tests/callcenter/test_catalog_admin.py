from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from callcenter.catalog import services as catalog_services
from callcenter.models import CatalogProduct, Lead, QueueSettings, StockMovement
from tests.callcenter.files import HEADER, csv_bytes, ledger_mismatches
from tests.factories import CatalogProductFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:callcenter_catalogproduct_import")


def upload(content: bytes, name: str = "catalogo.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:callcenter_catalogproduct_changelist",
        "admin:callcenter_catalogproduct_add",
        "admin:callcenter_catalogproduct_import",
        "admin:callcenter_stockmovement_changelist",
        "admin:callcenter_lead_changelist",
        "admin:callcenter_order_changelist",
        "admin:callcenter_callrecord_changelist",
        "admin:callcenter_lossreason_changelist",
        "admin:callcenter_queuesettings_changelist",
    ],
)
def test_the_call_center_admin_pages_load_for_a_superuser(admin_client, url_name):
    response = admin_client.get(reverse(url_name))

    assert response.status_code == 200


def test_the_changelist_offers_the_import(admin_client):
    CatalogProductFactory(name="Audífonos")

    response = admin_client.get(reverse("admin:callcenter_catalogproduct_changelist"))

    assert IMPORT_URL in response.content.decode()
    assert "Audífonos" in response.content.decode()


def test_searching_ignores_accents(admin_client):
    CatalogProductFactory(name="Audífonos", sku="AUD-1")
    CatalogProductFactory(name="Parlante", sku="PAR-1")

    response = admin_client.get(
        reverse("admin:callcenter_catalogproduct_changelist"), {"q": "AUDIFONOS"}
    )

    assert [p.sku for p in response.context["cl"].result_list] == ["AUD-1"]


def test_an_unsupported_file_is_refused_on_the_form(admin_client):
    response = admin_client.post(IMPORT_URL, {"file": upload(b"x", "catalogo.pdf")})

    assert "Formato no admitido" in str(response.context["form"].errors["file"])
    assert not CatalogProduct.objects.exists()


def test_adding_a_product_puts_its_initial_stock_in_the_ledger(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:callcenter_catalogproduct_add"),
        {
            "sku": "NEW-1",
            "name": "Nuevo",
            "description": "",
            "price": "25.50",
            "currency": "PEN",
            "stock": "6",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    product = CatalogProduct.objects.get(sku="NEW-1")
    assert (product.price, product.stock) == (Decimal("25.50"), 6)
    assert product.movements.get().actor == admin_user


def test_the_change_form_shows_stock_read_only_and_saving_keeps_it(admin_client):
    product = CatalogProductFactory(sku="CHG-1", name="Antes")
    catalog_services.adjust_stock(product=product, delta=5, note="Conteo", actor=None)
    url = reverse("admin:callcenter_catalogproduct_change", args=[product.pk])

    page = admin_client.get(url)
    response = admin_client.post(
        url,
        {
            "sku": "CHG-1",
            "name": "Después",
            "description": "",
            "price": "10.00",
            "currency": "PEN",
            "stock": "999",  # not a field of the change form: ignored
            "is_active": "on",
        },
    )

    assert "stock" not in page.context["adminform"].form.fields
    assert reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk]) in (
        page.content.decode()
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.stock) == ("Después", 5)


def test_adjusting_stock_from_admin(admin_client, admin_user):
    product = CatalogProductFactory()
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"delta": "7", "note": "Llegó mercadería"})

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.stock == 7
    assert product.movements.get().actor == admin_user
    assert ledger_mismatches() == []


def test_an_adjustment_that_would_go_negative_is_shown_on_the_form(admin_client):
    product = CatalogProductFactory(name="Audífonos", sku="AUD-1")
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    response = admin_client.post(url, {"delta": "-1", "note": "Merma"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "El stock de Audífonos (AUD-1) quedaría negativo: hay 0 unidades."
    ]
    assert not StockMovement.objects.exists()


def test_stock_movements_are_read_only(admin_client):
    product = CatalogProductFactory()
    catalog_services.adjust_stock(product=product, delta=1, note="Conteo", actor=None)
    movement = StockMovement.objects.get()

    changelist = admin_client.get(reverse("admin:callcenter_stockmovement_changelist"))
    add = admin_client.get(reverse("admin:callcenter_stockmovement_add"))
    delete = admin_client.get(reverse("admin:callcenter_stockmovement_delete", args=[movement.pk]))

    assert changelist.status_code == 200
    assert (add.status_code, delete.status_code) == (403, 403)


def test_queue_settings_is_a_single_row(admin_client):
    QueueSettings.objects.create(pk=1)

    add = admin_client.get(reverse("admin:callcenter_queuesettings_add"))
    delete = admin_client.get(reverse("admin:callcenter_queuesettings_delete", args=[1]))

    assert (add.status_code, delete.status_code) == (403, 403)


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:callcenter_catalogproduct_changelist"),
        IMPORT_URL,
        reverse("admin:callcenter_catalogproduct_import_detail", args=[1]),
        reverse("admin:callcenter_catalogproduct_import_progress", args=[1]),
        reverse("admin:callcenter_catalogproduct_import_errors", args=[1]),
        reverse("admin:callcenter_catalogproduct_adjust_stock", args=[1]),
    ],
)
def test_non_staff_users_are_sent_to_sign_in(client, agente, url):
    client.force_login(agente)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_non_staff_users_cannot_post_an_import(client, agente):
    client.force_login(agente)

    response = client.post(IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A", "B", "1", "1"]]))})

    assert response.status_code == 302
    assert not CatalogProduct.objects.exists()


def test_staff_without_catalog_permissions_cannot_import(client, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)

    response = client.post(IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A", "B", "1", "1"]]))})

    assert response.status_code == 403
    assert not CatalogProduct.objects.exists()


def test_a_bad_currency_is_shown_on_the_product_form(admin_client):
    product = CatalogProductFactory(sku="CUR-1")
    url = reverse("admin:callcenter_catalogproduct_change", args=[product.pk])

    response = admin_client.post(
        url,
        {"sku": "CUR-1", "name": "Producto", "price": "10", "currency": "S/", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "currency" in response.context["adminform"].form.errors
    product.refresh_from_db()
    assert product.currency == "PEN"


@pytest.mark.parametrize("term", ["HUAMÁN", "30000123"])
def test_leads_are_found_by_name_without_accents_or_by_kommo_id(admin_client, term):
    Lead.objects.create(kommo_id=30000123, contact_name="Rosa Huamán", search_text="rosa huaman")
    Lead.objects.create(kommo_id=30000999, contact_name="Otro", search_text="otro")

    response = admin_client.get(reverse("admin:callcenter_lead_changelist"), {"q": term})

    assert [lead.kommo_id for lead in response.context["cl"].result_list] == [30000123]


def test_an_initial_stock_beyond_what_the_column_holds_is_refused_on_the_form(admin_client):
    response = admin_client.post(
        reverse("admin:callcenter_catalogproduct_add"),
        {
            "sku": "BIG-1",
            "name": "Nuevo",
            "description": "",
            "price": "25.50",
            "currency": "PEN",
            "stock": "10000000000",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["stock"] == [
        "El stock quedaría en más de 2,147,483,647 unidades: revise el número."
    ]
    assert not CatalogProduct.objects.exists()


def test_the_service_refuses_an_initial_stock_beyond_what_the_column_holds(db):
    with pytest.raises(ValidationError) as refused:
        catalog_services.create_product(
            actor=None,
            data={"sku": "BIG-2", "name": "Nuevo", "price": Decimal("1"), "stock": 10**10},
        )

    assert "stock" in refused.value.message_dict
    assert not CatalogProduct.objects.exists()


@pytest.mark.parametrize("field", ["sold_status_id", "no_answer_status_id", "callback_status_id"])
def test_an_outcome_stage_cannot_be_the_queue_stage_itself(admin_client, field):
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": 7, "queue_status_id": 61000002, "sold_status_id": 61000005}
    )
    data = {
        "pipeline_id": "7",
        "queue_status_id": "61000002",
        "sold_status_id": "61000005",
        "no_answer_status_id": "",
        "callback_status_id": "",
        "not_interested_status_id": "143",
        "take_timeout_minutes": "30",
        field: "61000002",
    }

    response = admin_client.post(reverse("admin:callcenter_queuesettings_change", args=[1]), data)

    assert response.status_code == 200
    assert "Es la etapa «Para Llamar»" in response.context["adminform"].form.errors[field][0]
    assert QueueSettings.objects.get(pk=1).sold_status_id == 61000005
