"""A process's kept values: written once per key, bounded."""

from lib.kept import Kept


def test_a_value_is_written_once_per_key():
    kept, written = Kept(10), []

    def write(key):
        written.append(key)
        return f"<{key}>"

    assert kept.get("a", lambda: write("a")) == "<a>"
    assert kept.get("a", lambda: write("a")) == "<a>"
    assert kept.get("b", lambda: write("b")) == "<b>"
    assert written == ["a", "b"]


def test_past_its_bound_it_starts_over():
    kept = Kept(2)
    kept.get(1, lambda: "one")
    kept.get(2, lambda: "two")

    kept.get(3, lambda: "three")

    assert len(kept) == 1
    assert kept.get(1, lambda: "one again") == "one again"
