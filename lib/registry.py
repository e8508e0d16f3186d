"""Named registries: how a lower app lets the apps above it plug in without importing them.

The lower app keeps a `Registry`; a higher app registers into it from its
`AppConfig.ready` (a webhook processor, an outbox sender, a message channel). Registering
another item under a taken name is a configuration error; the same item again is a no-op,
so `ready` may run twice.
"""

from typing import Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class Registry(Generic[T]):
    """Items by name; `what` names them in errors ("A sender for 'kommo.update_lead'")."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> None:
        """Register `item` under `name`; refuse another item under a taken name."""
        current = self._items.get(name)
        if current is not None and current is not item and current != item:
            raise ImproperlyConfigured(f"{self.what} {name!r} is already registered.")
        self._items[name] = item

    def unregister(self, name: str) -> None:
        """Forget `name` (for tests)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T | None:
        """Return the item registered under `name`, or None."""
        return self._items.get(name)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._items)
