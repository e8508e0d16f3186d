"""The broker without Redis: a worker reading while a message is written gets it whole."""

import threading
from queue import Empty

import pytest
from kombu import Connection

from lib import file_broker

MESSAGES = 600


@pytest.fixture
def channel(tmp_path):
    folder = str(tmp_path)
    options = {"data_folder_in": folder, "data_folder_out": folder, "control_folder": folder}
    with Connection(transport=file_broker.Transport, transport_options=options) as connection:
        yield connection.channel()


def test_a_message_reads_back_as_it_was_put(channel):
    channel._put("celery", {"task": "crm.ping", "args": ["á", 1]})

    assert channel._get("celery") == {"task": "crm.ping", "args": ["á", 1]}
    with pytest.raises(Empty):
        channel._get("celery")


def test_a_reader_polling_while_messages_are_written_reads_each_one_whole(channel):
    """kombu's own transport hands the reader half-written files here (JSONDecodeError)."""
    read, errors = [], []
    writing = threading.Event()
    writing.set()

    def consume():
        while writing.is_set() or len(read) < MESSAGES:
            # Read before the call: a queue found empty after the last write is really empty
            # (checked after the call, the last message could land in between, unread).
            written = not writing.is_set()
            try:
                read.append(channel._get("celery")["n"])
            except Empty:
                if written:
                    return
            except Exception as exc:  # an empty or partial message lands here
                errors.append(repr(exc))

    reader = threading.Thread(target=consume)
    reader.start()
    for number in range(MESSAGES):
        channel._put("celery", {"n": number, "padding": "x" * 500_000})
    writing.clear()
    reader.join(timeout=60)

    assert errors == []
    assert sorted(read) == list(range(MESSAGES))
