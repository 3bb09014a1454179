"""Idle and slow connections are closed (gateway/ops/connections.py, the gate's body
deadline): 200 connections that sent nothing, or a request a byte at a time, were all held
open for as long as the probe waited."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(catalogue: AsyncEngine, settings: Settings) -> Iterator[GatewayServer]:
    if catalogue.dialect.name != "sqlite":
        pytest.skip("connections are the server's, whatever the database: once is enough")
    with GatewayServer(replace(settings, header_timeout=0.5, body_timeout=0.5)) as running:
        yield running


def connect(server: GatewayServer) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.settimeout(10)  # a bound for the test, far above the deadlines
    return connection


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_a_connection_that_sends_nothing_is_closed(server: GatewayServer) -> None:
    with connect(server) as connection:
        assert answer(connection) == b""


def test_headers_sent_slowly_are_cut_off(server: GatewayServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"POST /graphql HTTP/1.1\r\nHost: gateway\r\n")
        assert answer(connection) == b""  # never completed: closed, nothing run


def test_a_body_that_does_not_arrive_is_408(server: GatewayServer) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"query": '
        )
        received = answer(connection)
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"REQUEST_TIMEOUT" in received


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(
    server: GatewayServer,
) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        first = connection.recv(65536)
        while b'"ok"' not in first:
            first += connection.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /healthz HTTP/1.1\r\n")  # and no more
        assert answer(connection) == b""
