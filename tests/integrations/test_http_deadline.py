"""A provider's answer is read by a deadline and up to a size, with a real local server."""

import socket
import threading
import time

import pytest

from integrations import http
from integrations.errors import ProviderError, TemporaryProviderError


def _serve(answer) -> tuple[int, threading.Thread]:
    """Start a one-call server on 127.0.0.1 that runs `answer(conn)`; return its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)

    def run() -> None:
        try:
            conn, _ = server.accept()
            conn.recv(65536)
            try:
                answer(conn)
            except OSError:
                pass  # the client hung up, as it should
            finally:
                conn.close()
        finally:
            server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_a_provider_trickling_its_answer_is_cut_off_by_the_deadline():
    body = b'{"id": "x", "url": "https://pay.example.com/x"}'

    def trickle(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        for byte in body:  # one byte every 0.5 s: each read is well within the read timeout
            time.sleep(0.5)
            conn.sendall(bytes([byte]))

    port, thread = _serve(trickle)
    started = time.monotonic()
    with pytest.raises(TemporaryProviderError) as caught, http.session() as client:
        http.request(client, "POST", f"http://127.0.0.1:{port}/links", json={}, timeout=(1, 2))
    elapsed = time.monotonic() - started

    # (1, 2) gives the whole call 3 s; the body alone would take 24 s.
    assert elapsed < 4, elapsed
    # The provider answered 200: a caller that sent something can tell it may have been taken.
    assert http.accepted_but_unread(caught.value)
    thread.join(30)


def test_a_body_over_the_cap_is_refused_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 1024 * 1024)
    sent = []

    def flood(conn: socket.socket) -> None:
        # No Content-Length: the size shows only while reading. 10 MB offered.
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        for _ in range(160):
            conn.sendall(b"x" * 65536)
            sent.append(1)

    port, thread = _serve(flood)
    with pytest.raises(ProviderError) as caught, http.session() as client:
        http.request(client, "GET", f"http://127.0.0.1:{port}/big")

    assert not isinstance(caught.value, TemporaryProviderError)
    assert "respondió HTTP 200 con una respuesta de más de 1 MB: no se leyó" in str(caught.value)
    thread.join(30)
    assert len(sent) < 160, "the whole body was read"


def test_a_declared_size_over_the_cap_is_refused_before_reading(monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 1024 * 1024)

    def huge(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 209715200\r\n\r\n" + b"x" * 1000)
        time.sleep(1)

    port, thread = _serve(huge)
    started = time.monotonic()
    with pytest.raises(http.BodyTooLarge) as caught, http.session() as client:
        http.request(client, "GET", f"http://127.0.0.1:{port}/big")
    assert time.monotonic() - started < 1
    assert "respondió HTTP 200 con una respuesta de más de 1 MB: no se leyó" in str(caught.value)
    thread.join(30)


def test_an_answer_in_time_and_size_reads_as_before():
    def quick(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"ok": true}')

    port, thread = _serve(quick)
    with http.session() as client:
        response = http.request(client, "GET", f"http://127.0.0.1:{port}/ok")
    assert response.json() == {"ok": True}
    thread.join(30)
