"""Fixtures for the integrations tests: a processor and a sender registered for one test."""

from collections.abc import Callable, Iterator

import pytest

from integrations import fakes, outbox, webhooks
from integrations.models import WebhookEvent


class RecordingProcessor:
    """A webhook processor that records the events it ran on, raising scripted errors first."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.errors: list[Exception] = []
        self.side_effect: Callable[[WebhookEvent], None] | None = None

    def __call__(self, event: WebhookEvent) -> None:
        self.calls.append(event.pk)
        if self.side_effect is not None:
            self.side_effect(event)
        if self.errors:
            raise self.errors.pop(0)


@pytest.fixture
def provider() -> str:
    return "tests-provider"


@pytest.fixture
def destination() -> str:
    return "tests.destination"


@pytest.fixture
def processor(provider: str) -> Iterator[RecordingProcessor]:
    recorder = RecordingProcessor()
    webhooks.register_processor(provider, recorder)
    yield recorder
    webhooks.unregister_processor(provider)


@pytest.fixture
def sender(destination: str) -> Iterator[fakes.RecordingSender]:
    recorder = fakes.RecordingSender()
    outbox.register_sender(destination, recorder)
    yield recorder
    outbox.unregister_sender(destination)
