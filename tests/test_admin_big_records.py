"""The admin pages of one big record: a loan's installments, a gestión's follow-ups, a
catalog product's sales.

A loan's and a gestión's change pages listed every row (360 installments: 1 MB; 1,000
follow-ups: 2 MB, 1.3 s); they show 20 and link to the list of all of them, with the same
rights as before: read-only, and only for who may see those rows. A catalog product's delete
page loaded every order line and stock movement only to refuse (10,000: 2.6 s, 32 MB); a
product with history is now refused before that, and one without still deletes.
"""

import re
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.catalog import services as catalog_services
from callcenter.models import CatalogProduct, Order, OrderLine
from credits.models import Installment, Loan
from credits.services import loans as loan_services
from crm.gestiones import examples
from crm.gestiones import services as gestion_services
from crm.gestiones.models import FollowUp, Gestion
from tests.callcenter.conftest import make_lead
from tests.credits.conftest import TODAY, at
from tests.factories import CatalogProductFactory, CustomerFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with at(TODAY):
        yield


def _active_loan(term: int) -> Loan:
    """A loan disbursed through the service: `term` installments, none paid."""
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, term=term)
    disbursed_at = timezone.make_aware(datetime.combine(loan.start_date, time(9)))
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=disbursed_at)


@pytest.fixture
def gestion(asesor, supervisor) -> Gestion:
    """A credit application (the example process) worked by asesor, with its first follow-up."""
    process = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )
    return gestion_services.create_gestion(
        gestion_type=process,
        agent=asesor,
        customer=CustomerFactory(),
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )


def _add_follow_ups(gestion: Gestion, count: int, actor) -> None:
    """Add `count` follow-ups, one minute apart, noted «Nota 000», «Nota 001»... oldest first."""
    model = gestion.follow_ups.first()
    start = FollowUp.objects.filter(gestion=gestion).count()
    FollowUp.objects.bulk_create(
        FollowUp(
            gestion=gestion,
            action_id=model.action_id,
            result_id=model.result_id,
            from_state_id=model.state_id,
            state_id=model.state_id,
            actor=actor,
            notes=f"Nota {n:03d}",
            created_at=timezone.now() + timedelta(minutes=n),
        )
        for n in range(start, start + count)
    )


def _queries(client, url: str, status: int = 200) -> int:
    """The queries one request runs, after a first request has warmed session and caches."""
    return _cost(client, url, status)[0]


def _cost(client, url: str, status: int = 200) -> tuple[int, int]:
    """The queries and the bytes of one request, after a first one warmed session and caches."""
    assert client.get(url).status_code == status
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == status
    return len(captured), len(response.content)


def _table_after(html: str, link_text: str) -> str:
    """The table that follows a link's text on the page (the field that replaced an inline)."""
    start = html.index(link_text)
    return html[start : html.index("</table>", start)]


def _staff(*perms: str):
    user = UserFactory(is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


# --- A loan's installments -------------------------------------------------------------


def test_the_loans_admin_page_costs_the_same_for_3_60_or_120_installments(admin_client):
    def cost(term: int) -> tuple[int, int]:
        loan = _active_loan(term=term)
        return _cost(admin_client, reverse("admin:credits_loan_change", args=[loan.pk]))

    few, many, more = cost(3), cost(60), cost(120)

    assert few[0] == many[0] == more[0]
    # 20 rows either way: only a few figures differ (it grew 1 MB for 360 installments).
    assert abs(more[1] - many[1]) < 500


def test_the_loans_admin_page_shows_20_installments_from_the_oldest_open_and_links_to_all(
    admin_client,
):
    loan = _active_loan(term=60)
    Installment.objects.filter(loan=loan, number__lte=30).update(paid_on=TODAY)

    response = admin_client.get(reverse("admin:credits_loan_change", args=[loan.pk]))

    html = response.content.decode()
    list_url = reverse("admin:credits_installment_changelist") + f"?loan__id__exact={loan.pk}"
    assert f'<a href="{list_url}">Ver las 60 cuotas</a>' in html
    table = _table_after(html, "Ver las 60 cuotas")
    numbers = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", table)]
    assert numbers == list(range(31, 51))
    assert "la n.º 31" in html


def test_a_paid_loans_admin_page_shows_its_last_20_installments(admin_client):
    loan = _active_loan(term=24)
    Installment.objects.filter(loan=loan).update(paid_on=TODAY)

    html = admin_client.get(reverse("admin:credits_loan_change", args=[loan.pk])).content.decode()

    numbers = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", _table_after(html, "Ver las"))]
    assert numbers == list(range(5, 25))


def test_the_installments_list_shows_one_loans_installments(admin_client):
    loan = _active_loan(term=3)
    _active_loan(term=5)

    response = admin_client.get(
        reverse("admin:credits_installment_changelist"), {"loan__id__exact": loan.pk}
    )

    assert response.status_code == 200
    assert [i.number for i in response.context["cl"].result_list] == [1, 2, 3]
    assert {i.loan_id for i in response.context["cl"].result_list} == {loan.pk}


def test_installments_stay_read_only_in_admin_and_show_only_to_who_may_see_them(client):
    loan = _active_loan(term=3)
    installment = loan.installments.first()
    loan_url = reverse("admin:credits_loan_change", args=[loan.pk])
    client.force_login(_staff("credits.view_loan"))
    assert "Ver las 3 cuotas" not in client.get(loan_url).content.decode()

    client.force_login(_staff("credits.view_loan", "credits.view_installment"))

    assert "Ver las 3 cuotas" in client.get(loan_url).content.decode()
    assert client.get(reverse("admin:credits_installment_changelist")).status_code == 200
    change_url = reverse("admin:credits_installment_change", args=[installment.pk])
    assert client.post(change_url, {"number": 9}).status_code == 403
    assert client.post(loan_url, {}).status_code == 403
    assert client.get(reverse("admin:credits_installment_add")).status_code == 403
    delete_url = reverse("admin:credits_installment_delete", args=[installment.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    installment.refresh_from_db()
    assert installment.number == 1


# --- A gestión's follow-ups ------------------------------------------------------------


def test_the_gestions_admin_page_costs_the_same_for_3_60_or_120_follow_ups(
    admin_client, gestion, asesor
):
    _add_follow_ups(gestion, 3 - gestion.follow_ups.count(), asesor)
    url = reverse("admin:gestiones_gestion_change", args=[gestion.pk])
    few = _cost(admin_client, url)
    _add_follow_ups(gestion, 57, asesor)
    many = _cost(admin_client, url)
    _add_follow_ups(gestion, 60, asesor)
    more = _cost(admin_client, url)

    assert few[0] == many[0] == more[0]
    # 20 rows either way: only the count in the link differs (2 MB for 1,000 follow-ups).
    assert abs(more[1] - many[1]) < 100


def test_the_gestions_admin_page_shows_the_latest_20_follow_ups_and_links_to_all(
    admin_client, gestion, asesor
):
    _add_follow_ups(gestion, 60 - gestion.follow_ups.count(), asesor)

    response = admin_client.get(reverse("admin:gestiones_gestion_change", args=[gestion.pk]))

    html = response.content.decode()
    list_url = reverse("admin:gestiones_followup_changelist") + f"?gestion__id__exact={gestion.pk}"
    assert f'<a href="{list_url}">Ver los 60 seguimientos</a>' in html
    table = _table_after(html, "Ver los 60 seguimientos")
    assert re.findall(r"Nota (\d+)", table) == [f"{n:03d}" for n in range(59, 39, -1)]


def test_the_follow_ups_list_shows_one_gestions_follow_ups(admin_client, gestion, asesor):
    _add_follow_ups(gestion, 2, asesor)
    other = Gestion.objects.create(
        customer=CustomerFactory(),
        gestion_type=gestion.gestion_type,
        state=gestion.state,
        agent=asesor,
    )
    FollowUp.objects.create(gestion=other, state=gestion.state, notes="Otra")

    response = admin_client.get(
        reverse("admin:gestiones_followup_changelist"), {"gestion__id__exact": gestion.pk}
    )

    assert response.status_code == 200
    assert {f.gestion_id for f in response.context["cl"].result_list} == {gestion.pk}
    assert len(response.context["cl"].result_list) == gestion.follow_ups.count()


def test_follow_ups_stay_read_only_in_admin_and_show_only_to_who_may_see_them(
    client, gestion, asesor
):
    _add_follow_ups(gestion, 1, asesor)
    total = gestion.follow_ups.count()
    follow_up = gestion.follow_ups.first()
    gestion_url = reverse("admin:gestiones_gestion_change", args=[gestion.pk])
    client.force_login(_staff("gestiones.view_gestion"))
    assert "seguimientos</a>" not in client.get(gestion_url).content.decode()

    client.force_login(_staff("gestiones.view_gestion", "gestiones.view_followup"))

    assert f"Ver los {total} seguimientos" in client.get(gestion_url).content.decode()
    change_url = reverse("admin:gestiones_followup_change", args=[follow_up.pk])
    assert client.post(change_url, {"notes": "Cambiada"}).status_code == 403
    assert client.post(gestion_url, {}).status_code == 403
    delete_url = reverse("admin:gestiones_followup_delete", args=[follow_up.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.notes != "Cambiada"


# --- A catalog product's delete page ---------------------------------------------------


def _sell(product: CatalogProduct, lines: int, agent) -> None:
    """Record `lines` order lines of the product (one order), written directly: no stock moves."""
    order = Order.objects.create(
        lead=make_lead(),
        customer=CustomerFactory(),
        agent=agent,
        total=product.price * lines,
        delivery_name="Rosa Huamán",
        delivery_phone="+51987654321",
        delivery_address="Av. Arequipa 1234",
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=product,
            sku=product.sku,
            name=product.name,
            quantity=1,
            unit_price=product.price,
            line_total=product.price,
        )
        for _n in range(lines)
    )


def test_a_sold_product_offers_no_delete_and_its_delete_page_is_refused_at_once(
    admin_client, agente
):
    product = CatalogProductFactory()
    _sell(product, 3, agente)
    delete_url = reverse("admin:callcenter_catalogproduct_delete", args=[product.pk])

    change = admin_client.get(reverse("admin:callcenter_catalogproduct_change", args=[product.pk]))

    assert change.status_code == 200
    assert delete_url not in change.content.decode()
    few = _queries(admin_client, delete_url, status=403)
    _sell(product, 57, agente)
    assert _queries(admin_client, delete_url, status=403) == few
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert CatalogProduct.objects.filter(pk=product.pk).exists()


def test_a_product_whose_stock_moved_offers_no_delete(admin_client):
    product = CatalogProductFactory()
    catalog_services.adjust_stock(product=product, delta=5, note="Llegada", actor=None)
    delete_url = reverse("admin:callcenter_catalogproduct_delete", args=[product.pk])

    change = admin_client.get(reverse("admin:callcenter_catalogproduct_change", args=[product.pk]))

    assert delete_url not in change.content.decode()
    assert admin_client.get(delete_url).status_code == 403


def test_a_product_without_history_still_deletes(admin_client):
    product = CatalogProductFactory()
    delete_url = reverse("admin:callcenter_catalogproduct_delete", args=[product.pk])

    change = admin_client.get(reverse("admin:callcenter_catalogproduct_change", args=[product.pk]))
    response = admin_client.post(delete_url, {"post": "yes"})

    assert delete_url in change.content.decode()
    assert response.status_code == 302
    assert not CatalogProduct.objects.filter(pk=product.pk).exists()
