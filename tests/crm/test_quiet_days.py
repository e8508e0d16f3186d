"""Days without messages: weekdays and holidays of the message policy. A message written on
one waits for the next day with messages, at the end of its quiet hours; the timeline says
until when and why."""

from datetime import UTC, datetime, time

import pytest
from django.urls import reverse

from crm import messages
from crm.models import MessagePolicy
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

SUNDAY = 6
# Saturday 5 December 2026, 21:30 in Lima (UTC−5): inside 20:00–08:00, before a Sunday.
SATURDAY_NIGHT = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
# Sunday 6 December, 10:00 in Lima.
SUNDAY_MORNING = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
# Monday 7 December, 08:00 in Lima.
MONDAY_MORNING = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
# Friday 25 December (Christmas), 10:00 in Lima; Saturday 26 at 08:00.
CHRISTMAS = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
BOXING_DAY_MORNING = datetime(2026, 12, 26, 13, 0, tzinfo=UTC)


def policy(**kwargs) -> MessagePolicy:
    kwargs.setdefault("quiet_start", time(20, 0))
    kwargs.setdefault("quiet_end", time(8, 0))
    return MessagePolicy(**kwargs)


@pytest.mark.parametrize(
    ("moment", "held_until"),
    [
        (SATURDAY_NIGHT, MONDAY_MORNING),  # the night ends on a Sunday: Monday morning
        (SUNDAY_MORNING, MONDAY_MORNING),
        (MONDAY_MORNING, None),
        (datetime(2026, 12, 5, 15, 0, tzinfo=UTC), None),  # Saturday 10:00
    ],
)
def test_a_quiet_weekday_holds_messages_until_the_next_day_with_them(moment, held_until):
    assert messages.quiet_until(moment, policy(quiet_weekdays=[SUNDAY])) == held_until


def test_a_holiday_holds_messages_until_the_next_morning():
    christmas = policy(quiet_dates=[["2026-12-25", "Navidad"]])

    assert messages.quiet_until(CHRISTMAS, christmas) == BOXING_DAY_MORNING
    assert messages.quiet_until(BOXING_DAY_MORNING, christmas) is None


def test_holidays_and_weekdays_add_up():
    # Christmas on Friday, a quiet Saturday and Sunday: the messages wait until Monday 28.
    long_weekend = policy(quiet_weekdays=[5, SUNDAY], quiet_dates=[["2026-12-25", "Navidad"]])

    assert messages.quiet_until(CHRISTMAS, long_weekend) == datetime(
        2026, 12, 28, 13, 0, tzinfo=UTC
    )


def test_without_quiet_hours_the_next_day_starts_at_midnight():
    no_hours = policy(quiet_start=time(0), quiet_end=time(0), quiet_weekdays=[SUNDAY])

    assert messages.quiet_until(SUNDAY_MORNING, no_hours) == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def test_a_policy_with_every_day_quiet_holds_by_the_hours_only():
    # The form refuses it; a row written otherwise must not loop or hold forever.
    every_day = policy(quiet_weekdays=list(range(7)))

    assert messages.quiet_until(SUNDAY_MORNING, every_day) is None


@pytest.fixture
def quiet_sundays(db, time_machine):
    time_machine.move_to(SUNDAY_MORNING, tick=False)
    return MessagePolicy.objects.create(
        pk=1,
        quiet_start=time(20, 0),
        quiet_end=time(8, 0),
        daily_limit=3,
        quiet_weekdays=[SUNDAY],
    )


def test_a_message_on_a_quiet_day_waits_and_the_timeline_says_until_when(
    quiet_sundays, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sending = messages.send_customer_message(
            customer=customer, channel=messages.SMS, subject="Recordatorio", body="Hola"
        )

    assert sending.is_queued and sending.held_until == MONDAY_MORNING
    outbox = OutboxMessage.objects.get()
    assert outbox.next_attempt_at == MONDAY_MORNING
    assert outbox.status == OutboxMessage.Status.QUEUED
    assert (
        "(retenido hasta el lunes 7/12 a las 08:00 por los días sin mensajes)"
        in sending.interaction.summary
    )


def test_a_flows_batch_on_a_quiet_day_waits_too(quiet_sundays, customer):
    other = CustomerFactory(phone="+51987650000")
    sent = messages.send_customer_messages(
        [
            messages.Outgoing(customer=customer, subject="Aviso", body="Hola"),
            messages.Outgoing(customer=other, subject="Aviso", body="Hola"),
        ],
        channel=messages.SMS,
        capped=True,
    )

    assert [sending.held_until for sending in sent] == [MONDAY_MORNING, MONDAY_MORNING]
    assert set(OutboxMessage.objects.values_list("next_attempt_at", flat=True)) == {MONDAY_MORNING}


def test_a_one_time_code_goes_out_on_a_quiet_day(quiet_sundays, customer):
    sending = messages.send_customer_message(
        customer=customer, channel=messages.SMS, subject="Código", body="123456", is_secret=True
    )

    assert sending.held_until is None


# --- The policy's form ------------------------------------------------------------------------


def _post(client, **changes):
    data = {"quiet_start": "20:00", "quiet_end": "08:00", "daily_limit": "3", **changes}
    return client.post(reverse("collections_app:message_policy"), data)


def test_a_supervisor_sets_quiet_weekdays_and_holidays(client, supervisor, time_machine):
    time_machine.move_to(SUNDAY_MORNING, tick=False)
    client.force_login(supervisor)

    response = _post(
        client,
        quiet_weekdays=["6", "5"],
        quiet_dates="25/12/2026 Navidad\n\n2027-01-01   Año   Nuevo\n",
    )

    assert response.status_code == 302
    saved = MessagePolicy.current()
    assert saved.quiet_weekdays == [5, 6]
    assert saved.quiet_dates == [["2026-12-25", "Navidad"], ["2027-01-01", "Año Nuevo"]]
    page = client.get(reverse("collections_app:event_settings")).content.decode()
    assert "25/12/2026 Navidad\n01/01/2027 Año Nuevo" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quiet_dates": "Navidad 25/12/2026"}, "Línea 1: «Navidad» no es una fecha"),
        ({"quiet_dates": "25/12/2026\n31/02/2026 Nada"}, "Línea 2: «31/02/2026» no es una fecha"),
        ({"quiet_dates": "25/12/3026 Navidad"}, "Línea 1: la fecha 25/12/3026 está fuera de"),
        (
            {"quiet_dates": "25/12/2026 Navidad\n2026-12-25 Otra"},
            "Línea 2: el 25/12/2026 ya está en la línea 1.",
        ),
        ({"quiet_dates": "25/12/2026 " + "x" * 61}, "el nombre tiene más de 60 caracteres"),
        ({"quiet_dates": "\n".join(["01/01/2027"] * 201)}, "como máximo 200 feriados"),
        ({"quiet_weekdays": [str(d) for d in range(7)]}, "Deje al menos un día de la semana"),
        ({"quiet_weekdays": ["9"]}, "Elija los días de la lista."),
    ],
)
def test_the_form_refuses_what_it_cannot_keep_and_says_why(
    client, supervisor, time_machine, changes, message
):
    time_machine.move_to(SUNDAY_MORNING, tick=False)
    client.force_login(supervisor)

    response = _post(client, **changes)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert MessagePolicy.current().quiet_dates == []
    assert MessagePolicy.current().quiet_weekdays == []
