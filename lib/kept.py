"""What a process writes once per key and keeps as it is: up to a bound, then it starts over.

For text that follows only from its key (a part of the layout, a table's headings, "hace 3
horas"): Django's cache backends pickle every value in and out (~0.1 ms), even in the
process's own memory; here the value is kept as it was written.

    HEADS = Kept(1_000)
    head = HEADS.get(key, lambda: render(...))
"""

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class Kept(Generic[Value]):
    def __init__(self, size: int):
        self.size = size
        self._values: dict[Hashable, Value] = {}

    def get(self, key: Hashable, write: Callable[[], Value]) -> Value:
        """Return the value kept for `key`, or write it (`write()`) and keep it."""
        value = self._values.get(key)
        if value is None:
            if len(self._values) >= self.size:  # bounded: start over
                self._values.clear()
            value = self._values[key] = write()
        return value

    def clear(self) -> None:
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)
