"""A template stops soon after its 5 seconds are up, not when the expression that ran
over ends: the time is checked around every filter, test and call, and no one filter
call may run long (sorting takes at most 100,000 items)."""

import pytest
from django.core.exceptions import ValidationError
from jinja2 import StrictUndefined

from crm.gestiones.documents import rendering, sandbox
from tests.crm.gestiones.test_documents import docx_with


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Slow:
    """A value whose every comparison takes two seconds of the fake clock."""

    def __init__(self, clock: Clock, calls: list[str]) -> None:
        self.clock, self.calls = clock, calls

    def _compare(self, other: object) -> bool:
        self.clock.now += 2
        self.calls.append("compare")
        return True

    __lt__ = __eq__ = _compare
    __hash__ = object.__hash__


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sandbox.time, "monotonic", clock)
    return clock


@pytest.mark.parametrize(
    "source",
    [
        # Each sort compares the two items once: 2 s.
        "{{ (items|sort|sort|sort|sort|sort|sort)|length }}",
        # Each test compares them once.
        "{{ a is eq(b) and a is eq(b) and a is eq(b) and a is eq(b) and a is eq(b) }}",
    ],
)
def test_an_expression_stops_at_the_first_step_past_the_time_limit(clock, source):
    calls: list[str] = []
    a, b = Slow(clock, calls), Slow(clock, calls)
    environment = sandbox.BoundedEnvironment(undefined=StrictUndefined, autoescape=True)

    with pytest.raises(sandbox.TemplateLimitError, match="tarda más de 5 segundos"):
        environment.from_string(source).render(items=[a, b], a=a, b=b)

    # 2, 4, 6 s: the third step is the first past 5 s, and nothing runs after it.
    assert len(calls) == 3


def test_sorting_a_list_longer_than_the_limit_is_refused_at_once():
    with pytest.raises(ValidationError) as caught:
        rendering.render_document(
            docx_with('{% set x = ("ab" * 450000)|list %}{{ (x|sort|sort|sort)|length }}'), {}
        )

    assert (
        "ordena o agrupa una lista de más de 100.000 elementos"
        in caught.value.message_dict["file"][0]
    )


@pytest.mark.parametrize("name", ["sort", "unique", "groupby(0)", "dictsort"])
def test_every_sorting_filter_has_the_limit(name):
    environment = sandbox.BoundedEnvironment(undefined=StrictUndefined, autoescape=True)
    over = dict.fromkeys(f"k{n}" for n in range(sandbox.MAX_SORTED_ITEMS + 1))

    with pytest.raises(sandbox.TemplateLimitError, match="ordena o agrupa"):
        environment.from_string("{{ over|" + name + " }}").render(
            over=over if name == "dictsort" else list(over)
        )


def test_sorting_a_list_within_the_limit_works():
    environment = sandbox.BoundedEnvironment(undefined=StrictUndefined, autoescape=True)

    assert environment.from_string("{{ [3, 1, 2]|sort|join(',') }}").render() == "1,2,3"
