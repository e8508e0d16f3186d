"""Strategies' shared cast: a segment, a template per channel, and a debtor a flow can reach.

The clock stays frozen on TODAY (15 June 2026) as for every collections test. The
debtor's first installment fell due five days ago (FLOW_DUE_DATE) and is unpaid: a
segment of 1 to 30 days past due takes them, and a flow step at +5 sends to them today.
"""

from datetime import date, time, timedelta

import pytest

from collections_app.models import MessageTemplate, Portfolio
from collections_app.strategies import segments, templating, variables
from credits.services import delinquency
from crm.models import MessagePolicy
from tests.collections_app.conftest import TODAY
from tests.factories import CustomerFactory

FLOW_DUE_DATE = TODAY - timedelta(days=5)


def make_template(**fields) -> MessageTemplate:
    """Save a template through the service, as every path does; fields override an SMS."""
    data = {
        "name": "Recordatorio SMS",
        "channel": MessageTemplate.Channel.SMS,
        "portfolio": Portfolio.CURRENT,
        "subject": "",
        "body": "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}.",
        "whatsapp_name": "",
        "whatsapp_language": "es",
        "is_active": True,
        **fields,
    }
    return templating.save_template(data=data)


@pytest.fixture
def sms_template(db):
    return make_template()


@pytest.fixture
def whatsapp_template(db):
    return make_template(
        name="Recordatorio WhatsApp",
        channel=MessageTemplate.Channel.WHATSAPP,
        body=(
            "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}. Pague en {link_pago}"
        ),
        whatsapp_name="recordatorio_pago",
    )


@pytest.fixture
def email_template(db):
    return make_template(
        name="Recordatorio por correo",
        channel=MessageTemplate.Channel.EMAIL,
        subject="Su cuota vence el {fecha_vencimiento}",
        body="Hola {nombre_completo}:\n\nSu saldo es {saldo}; código de pago {codigo_pago}.",
    )


@pytest.fixture
def segment(db, cobranzas):
    """Debtors 1 to 30 days late."""
    return segments.save_segment(
        data={"name": "Atraso de 1 a 30 días", "min_days_past_due": 1, "max_days_past_due": 30},
        actor=cobranzas,
    )


@pytest.fixture
def flow_debtor(make_active_loan):
    """A debtor with phone and e-mail, whose one active loan's first installment fell due
    on FLOW_DUE_DATE and is unpaid (days past due kept current by the daily task)."""
    customer = CustomerFactory(
        first_name="Julia",
        last_name="Mamani Ríos",
        document_number="70123456",
        email="julia@example.com",
    )
    make_active_loan(
        customer=customer,
        start_date=date(2026, 5, 10),
        first_due_date=FLOW_DUE_DATE,
        payment_code="L900000001",
    )
    delinquency.update_delinquency(today=TODAY)
    return customer


@pytest.fixture
def castigada_variables(db):
    """A written-off campaign's variable, as the recovery app registers its own."""
    source = variables.VariableSource(
        name="test_campaign",
        variables={"monto_campana": "Monto de la campaña"},
        portfolios=("castigada",),
        load=lambda recipients, today: [{"monto_campana": "S/ 500.00"} for _ in recipients],
    )
    variables.register_source(source)
    yield source
    variables.unregister_source(source.name)


@pytest.fixture
def quiet_nights(db):
    """The message policy's quiet hours, 20:00 to 08:00: a message of the night waits."""
    return MessagePolicy.objects.create(
        pk=1, quiet_start=time(20, 0), quiet_end=time(8, 0), daily_limit=3
    )


@pytest.fixture
def debtor_by_email(debtor):
    debtor.email = "rosa@example.pe"
    debtor.save()
    return debtor
