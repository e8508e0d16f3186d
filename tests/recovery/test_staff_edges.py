"""Edges of the staff's written-off screens found by hand: money written as the screens
write it on the confirmation pages and messages, a new campaign's end date, and the
portal's settings in admin (the countdown's hours, the reasons to decline)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from recovery.admin import MAX_REASONS
from recovery.models import Campaign, RecoverySettings
from recovery.portal import selectors as portal_selectors
from tests.recovery.conftest import TODAY
from tests.recovery.test_screens import LIST, _form, _with_perms, pay, shown


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


# --- Money on the confirmation pages and in the messages -----------------------------------


def test_finishing_confirms_the_balance_in_soles_as_the_page_shows_it(agent_client, campaign):
    response = agent_client.post(reverse("recovery:campaign_finish", args=[campaign.pk]), {})

    assertContains(response, "saldo S/ 7,200.00")
    assertNotContains(response, "PEN 7")


def test_annulling_confirms_and_reports_the_amount_in_soles(agent_client, campaign):
    payment = pay(campaign, "500.00")
    url = reverse("recovery:payment_annul", args=[campaign.pk, payment.pk])

    asked = agent_client.post(url, {"reason": "Duplicado"})
    done = agent_client.post(url, {"reason": "Duplicado", "confirm": "yes"}, follow=True)

    assertContains(asked, f"Pago #{payment.pk} de S/ 500.00")
    assert any("de S/ 500.00 anulado" in message for message in shown(done))
    assert not any("PEN" in message for message in shown(done))


def test_a_new_campaign_is_announced_in_soles(agent_client, debtor):
    response = agent_client.post(reverse("recovery:campaign_create"), _form(debtor), follow=True)

    assert any("paga S/ 3,500.00" in message for message in shown(response))


# --- The list's links ----------------------------------------------------------------------


def test_the_template_is_offered_only_to_who_may_download_it(client, campaign):
    template = reverse("recovery:import_template")
    client.force_login(_with_perms("crm.view_customer", "recovery.view_campaign"))

    response = client.get(LIST)

    assert response.status_code == 200
    assertNotContains(response, template)
    assert client.get(template).status_code == 403


def test_an_agent_who_makes_campaigns_gets_the_template(agent_client):
    assertContains(agent_client.get(LIST), reverse("recovery:import_template"))


# --- A new campaign's end date -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        # Not "between 01/01/2000 and …": a day before today is refused whatever it is.
        ("0001-01-01", "ya pasó"),
        ("2001-01-01", "ya pasó"),
        ((TODAY - timedelta(days=1)).isoformat(), "ya pasó"),
        ("9999-12-31", "Elija una fecha hasta el"),
    ],
)
def test_the_end_date_says_what_is_wrong_with_it(agent_client, debtor, typed, message):
    response = agent_client.post(reverse("recovery:campaign_create"), _form(debtor, ends_on=typed))

    errors = " ".join(response.context["form"].errors["ends_on"])
    assert message in errors
    assert "01/01/2000" not in errors
    assert not Campaign.objects.exists()


def test_a_campaign_may_end_today(agent_client, debtor):
    response = agent_client.post(
        reverse("recovery:campaign_create"), _form(debtor, ends_on=TODAY.isoformat())
    )

    assert response.status_code == 302
    assert Campaign.objects.get().ends_on == TODAY


# --- The portal's settings in admin --------------------------------------------------------


def _settings(portal: RecoverySettings, **changes) -> dict:
    return {
        "title": portal.title,
        "intro": portal.intro,
        "offer_text": portal.offer_text,
        "legal_text": portal.legal_text,
        "countdown_enabled": "on",
        "countdown_hours": "48",
        "decline_reasons": portal.decline_reasons,
        "is_active": "on",
        "advisor_whatsapp": "51987654321",
        "max_discount_percent": "95",
        **changes,
    }


def _save(admin_client, **changes):
    portal = RecoverySettings.current()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])
    response = admin_client.post(url, _settings(portal, **changes))
    errors = response.context["adminform"].form.errors if response.status_code == 200 else {}
    return response, errors


@pytest.mark.parametrize("hours", ["0", "-1"])
def test_the_countdown_takes_one_hour_or_more_and_says_so(admin_client, hours):
    response, errors = _save(admin_client, countdown_hours=hours)

    assert response.status_code == 200
    assert errors["countdown_hours"] == ["Asegúrese de que este valor es mayor o igual a 1."]
    assert RecoverySettings.current().countdown_hours == 48


def test_the_countdown_takes_720_hours_at_most(admin_client):
    _response, errors = _save(admin_client, countdown_hours="100000")

    assert "countdown_hours" in errors


@pytest.mark.parametrize(
    ("reasons", "message"),
    [
        ("No tengo dinero\nno tengo  DINERO", "La línea 2 repite el motivo de la línea 1"),
        ("Ya pagué\n\n Ya pagué ", "La línea 3 repite el motivo de la línea 1"),
        (
            f"Ya pagué\n{portal_selectors.ADVISOR_REASON.upper()}",
            "se agrega siempre",
        ),
        ("\n".join(str(n) for n in range(500)), f"el portal muestra hasta {MAX_REASONS}"),
    ],
)
def test_the_reasons_to_decline_are_few_and_different(admin_client, reasons, message):
    before = RecoverySettings.current().decline_reasons

    response, errors = _save(admin_client, decline_reasons=reasons)

    assert response.status_code == 200
    assert message in " ".join(errors["decline_reasons"])
    assert RecoverySettings.current().decline_reasons == before


def test_reasons_with_blank_lines_and_up_to_the_most_are_saved(admin_client):
    reasons = "\n\n".join(f"Motivo {n}" for n in range(MAX_REASONS))

    response, _errors = _save(admin_client, decline_reasons=reasons)

    assert response.status_code == 302
    portal = RecoverySettings.current()
    assert len(portal_selectors.decline_reasons(portal)) == MAX_REASONS + 1
