"""The suite's loopback-only guard (tests/conftest.py) refuses other addresses before any packet leaves."""

import socket

import pytest
import requests


def test_resolving_a_public_name_is_refused() -> None:
    with pytest.raises(OSError, match="network guard"):
        socket.getaddrinfo("management.azure.com", 443)


def test_connecting_to_a_non_loopback_address_is_refused() -> None:
    with socket.socket() as s, pytest.raises(OSError, match="network guard"):
        s.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed anyway


def test_an_sdk_style_request_to_azure_is_refused() -> None:
    with pytest.raises(requests.ConnectionError, match="network guard"):
        requests.get("https://management.azure.com/", timeout=2)


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
