"""The board's columns (selectors.board): which cards, in which order, and how they are read."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.gestiones import selectors
from crm.gestiones.models import Gestion, GestionState, Outcome
from tests.factories import CustomerFactory

DAY = datetime.timedelta(days=1)


def _put(gestion, state_name, *, due_at=None, closed_at=None, timed=True):
    """Move `gestion` to the state named `state_name` of its type, as the board reads it."""
    state = GestionState.objects.get(gestion_type=gestion.gestion_type, name=state_name)
    Gestion.objects.filter(pk=gestion.pk).update(
        state=state,
        outcome=state.outcome,
        due_at=due_at,
        closed_at=closed_at,
        is_time_controlled=timed,
    )
    return gestion.pk


def _expected(gestion_type, state_name, now, per_state):
    """The cards and counts the board promises, computed in Python from every gestión."""
    recent = now - 30 * DAY
    rows = [
        g
        for g in Gestion.objects.filter(gestion_type=gestion_type, state__name=state_name)
        if g.outcome == Outcome.OPEN or (g.closed_at is not None and g.closed_at >= recent)
    ]
    # By due date, undated last; then the latest closed (in one state either every row is
    # closed or none is); then by number.
    rows.sort(
        key=lambda g: (
            g.due_at is None,
            g.due_at or now,
            -(g.closed_at.timestamp() if g.closed_at else 0),
            g.pk,
        )
    )
    late = sum(
        1 for g in rows if g.outcome == Outcome.OPEN and g.is_time_controlled and g.due_at < now
    )
    return [g.pk for g in rows[:per_state]], len(rows), late


def _board_world(make_gestion, credit_type):
    now = timezone.now()
    made = lambda: make_gestion(customer=CustomerFactory())  # noqa: E731
    # "Creado": dated, late, tied on the due date, and undated.
    tie = now + 2 * DAY
    _put(made(), "Creado", due_at=tie)
    _put(made(), "Creado", due_at=now - 3 * DAY)
    _put(made(), "Creado", due_at=None, timed=False)
    _put(made(), "Creado", due_at=tie)
    _put(made(), "Creado", due_at=now - DAY, timed=False)
    _put(made(), "Creado", due_at=None, timed=False)
    # "Pre estudio": fewer than a column holds.
    _put(made(), "Pre estudio", due_at=now + DAY)
    _put(made(), "Pre estudio", due_at=None, timed=False)
    # "Desembolsado": closed, mostly undated; tied on the closing moment; one closed long ago.
    closed = now - 2 * DAY
    _put(made(), "Desembolsado", closed_at=now - 5 * DAY)
    _put(made(), "Desembolsado", closed_at=closed)
    _put(made(), "Desembolsado", closed_at=now - 40 * DAY)
    _put(made(), "Desembolsado", closed_at=closed)
    _put(made(), "Desembolsado", closed_at=now - 10 * DAY, due_at=now - 12 * DAY)
    _put(made(), "Desembolsado", closed_at=now - DAY)
    # "Rechazado comité de crédito": only history, older than the board shows.
    _put(made(), "Rechazado comité de crédito", closed_at=now - 31 * DAY)
    return now


def test_the_board_shows_each_states_first_cards_in_order_and_its_counts(make_gestion, credit_type):
    now = _board_world(make_gestion, credit_type)

    columns = selectors.board(Gestion.objects.all(), credit_type, per_state=4)

    by_name = {column.state.name: column for column in columns}
    for name in ("Creado", "Pre estudio", "Desembolsado", "Rechazado comité de crédito"):
        cards, count, late = _expected(credit_type, name, now, 4)
        column = by_name[name]
        assert [g.pk for g in column.cards] == cards, name
        assert (column.count, column.late) == (count, late), name
    assert (by_name["Creado"].count, by_name["Creado"].late) == (6, 1)
    assert by_name["Desembolsado"].count == 5
    assert by_name["Rechazado comité de crédito"].count == 0
    assert by_name["Rechazado comité de crédito"].cards == []
    # Every state of the type has its column, in the process's order.
    assert [c.state.pk for c in columns] == list(
        credit_type.states.order_by("order", "id").values_list("pk", flat=True)
    )


def test_a_card_brings_its_customer_and_agent_without_more_queries(
    make_gestion, credit_type, asesor
):
    gestion = make_gestion(customer=CustomerFactory(first_name="Zoila"), agent=asesor)

    (column,) = [c for c in selectors.board(Gestion.objects.all(), credit_type) if c.cards]
    with CaptureQueriesContext(connection) as queries:
        (card,) = column.cards
        names = (card.customer.first_name, card.agent.username)

    assert card.pk == gestion.pk
    assert names == ("Zoila", asesor.username)
    assert len(queries) == 0


def test_the_board_picks_the_card_ids_alone_then_reads_every_card_in_one_query(
    make_gestion, credit_type
):
    _board_world(make_gestion, credit_type)
    non_empty = 3  # "Creado", "Pre estudio" and "Desembolsado" have gestiones to show.

    with CaptureQueriesContext(connection) as queries:
        selectors.board(Gestion.objects.all(), credit_type, per_state=4)

    gestion_queries = [q["sql"] for q in queries if 'FROM "gestiones_gestion"' in q["sql"]]
    ordered = [sql for sql in gestion_queries if "ORDER BY" in sql and "LIMIT" in sql]
    assert len(ordered) == non_empty
    for sql in ordered:
        # The ordered pick reads the gestiones alone, their ids only.
        assert "JOIN" not in sql
        assert sql.startswith('SELECT "gestiones_gestion"."id" AS "id" FROM')
    # The counts, one pick per non-empty column, and one read of every card.
    assert len(gestion_queries) == 1 + non_empty + 1


def test_an_advisor_sees_only_own_cards_on_the_board(
    client, make_gestion, credit_type, asesor, asesor2
):
    mine = make_gestion(customer=CustomerFactory(), agent=asesor)
    make_gestion(customer=CustomerFactory(), agent=asesor2)
    client.force_login(asesor)

    response = client.get(reverse("gestiones:board"), {"tipo": credit_type.pk})

    columns = {c.state.name: c for c in response.context["columns"]}
    assert [g.pk for g in columns["Creado"].cards] == [mine.pk]
    assert columns["Creado"].count == 1
    assert f"#{mine.pk}" in response.content.decode()


def test_the_board_order_has_its_index():
    """The column's order is read from an index in that order (state first)."""
    (index,) = [i for i in Gestion._meta.indexes if i.name == "gestiones_state_board_idx"]

    assert index.fields == ["state", "due_at", "-closed_at", "id"]
    assert [str(term) for term in selectors.BOARD_CARD_ORDER[1:]] == ["-closed_at", "id"]
