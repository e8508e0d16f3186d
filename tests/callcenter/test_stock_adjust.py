import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse

from callcenter.catalog import services as catalog_services
from callcenter.models import CatalogProduct, StockMovement
from tests.callcenter.files import HEADER, csv_bytes, import_file, ledger_mismatches
from tests.factories import CatalogProductFactory, UserFactory


@pytest.mark.django_db
def test_it_adds_and_takes_out_units_and_records_who_and_why():
    product = CatalogProductFactory(name="Audífonos", sku="AUD-1")
    admin = UserFactory(username="jefa")

    catalog_services.adjust_stock(product=product, delta=10, note="Llegó mercadería", actor=admin)
    product = catalog_services.adjust_stock(product=product, delta=-3, note="Merma", actor=admin)

    assert product.stock == 7
    assert list(
        product.movements.order_by("id").values_list("delta", "reason", "note", "actor")
    ) == [
        (10, StockMovement.Reason.ADJUSTMENT, "Llegó mercadería", admin.pk),
        (-3, StockMovement.Reason.ADJUSTMENT, "Merma", admin.pk),
    ]


@pytest.mark.django_db
def test_it_refuses_to_leave_the_stock_negative():
    product = CatalogProductFactory(name="Audífonos", sku="AUD-1")
    catalog_services.adjust_stock(product=product, delta=3, note="Conteo", actor=None)

    with pytest.raises(ValidationError) as refused:
        catalog_services.adjust_stock(product=product, delta=-4, note="Merma", actor=None)

    assert refused.value.messages == [
        "El stock de Audífonos (AUD-1) quedaría negativo: hay 3 unidades."
    ]
    product.refresh_from_db()
    assert product.stock == 3
    assert product.movements.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("delta", "note", "field"), [(0, "Conteo", "delta"), (5, "  ", "note")])
def test_an_adjustment_needs_units_and_a_reason(delta, note, field):
    product = CatalogProductFactory()

    with pytest.raises(ValidationError) as refused:
        catalog_services.adjust_stock(product=product, delta=delta, note=note, actor=None)

    assert field in refused.value.message_dict
    assert not StockMovement.objects.exists()


@pytest.mark.django_db
def test_a_new_products_initial_stock_enters_the_ledger():
    product = catalog_services.create_product(
        actor=None,
        data={"sku": "NEW-1", "name": "Nuevo", "price": Decimal("10.00"), "stock": 8},
    )

    movement = product.movements.get()
    assert (movement.delta, movement.reason, movement.note) == (
        8,
        StockMovement.Reason.ADJUSTMENT,
        "Stock inicial",
    )
    assert product.currency == "PEN"
    assert product.search_text == "nuevo new-1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sku": "DUP-1", "name": "Otro", "price": Decimal("1")}, "sku"),
        ({"sku": "NEG-1", "name": "Negativo", "price": Decimal("-1")}, "price"),
        ({"sku": "CUR-1", "name": "Moneda", "price": Decimal("1"), "currency": "S/"}, "currency"),
        ({"sku": "STK-1", "name": "Stock", "price": Decimal("1"), "stock": -2}, "__all__"),
    ],
)
def test_it_refuses_an_invalid_product(data, field):
    CatalogProductFactory(sku="DUP-1")

    with pytest.raises(ValidationError) as refused:
        catalog_services.create_product(actor=None, data=data)

    assert field in refused.value.message_dict
    assert CatalogProduct.objects.count() == 1


@pytest.mark.django_db
def test_editing_a_product_never_writes_back_a_stale_stock():
    product = CatalogProductFactory()
    stale = CatalogProduct.objects.get(pk=product.pk)
    catalog_services.adjust_stock(product=product, delta=5, note="Conteo", actor=None)

    catalog_services.update_product(
        product=stale, data={"name": "Renombrado", "price": Decimal("9.90")}
    )

    product.refresh_from_db()
    assert (product.name, product.price, product.stock) == ("Renombrado", Decimal("9.90"), 5)


@pytest.mark.django_db
def test_stock_is_the_sum_of_its_movements_after_adjustments_and_imports():
    first = catalog_services.create_product(
        actor=None, data={"sku": "L-1", "name": "Uno", "price": Decimal("1"), "stock": 4}
    )
    catalog_services.adjust_stock(product=first, delta=6, note="Compra", actor=None)
    import_file(csv_bytes([HEADER, ["L-1", "Uno", "1", "2"], ["L-2", "Dos", "2", "9"]]))
    second = CatalogProduct.objects.get(sku="L-2")
    catalog_services.adjust_stock(product=second, delta=-9, note="Merma", actor=None)
    import_file(csv_bytes([HEADER, ["L-1", "Uno", "1", "7"], ["L-2", "Dos", "2", "1"]]))

    assert dict(CatalogProduct.objects.values_list("sku", "stock")) == {"L-1": 7, "L-2": 1}
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_two_adjustments_at_once_cannot_both_take_the_last_units():
    product = CatalogProductFactory()
    catalog_services.adjust_stock(product=product, delta=5, note="Conteo", actor=None)
    first_taken = threading.Event()
    outcomes: list[str] = []

    def take_first() -> None:
        try:
            # Hold the first adjustment uncommitted while the second one races it.
            with transaction.atomic():
                catalog_services.adjust_stock(
                    product=product, delta=-3, note="Venta en tienda", actor=None
                )
                first_taken.set()
                time.sleep(0.5)
            outcomes.append("ok")
        finally:
            connection.close()

    def take_second() -> None:
        try:
            first_taken.wait(timeout=5)
            catalog_services.adjust_stock(product=product, delta=-3, note="Merma", actor=None)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=take_first), threading.Thread(target=take_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == [
        f"El stock de {product} quedaría negativo: hay 2 unidades.",
        "ok",
    ]
    product.refresh_from_db()
    assert product.stock == 2
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_the_same_adjustment_sent_twice_is_refused_the_second_time(admin_client):
    """A double click on +10 added 20."""
    product = CatalogProductFactory(name="Audífonos", sku="AUD-1")
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    admin_client.post(url, {"delta": 10, "note": "Llegó mercadería"})
    again = admin_client.post(url, {"delta": 10, "note": "Llegó mercadería"})
    other = admin_client.post(url, {"delta": 10, "note": "Segunda caja"})

    assert "Usted registró este mismo ajuste (+10, «Llegó mercadería»)" in again.content.decode()
    assert other.status_code == 302
    product.refresh_from_db()
    assert product.stock == 20
