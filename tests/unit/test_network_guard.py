"""The root conftest's guard: tests reach loopback only, and see fake AWS settings."""

from __future__ import annotations

import os
import socket

import pytest


def test_non_loopback_name_resolution_is_blocked() -> None:
    with pytest.raises(OSError, match="non-loopback network access attempted"):
        socket.getaddrinfo("datazone.us-east-1.api.aws", 443)


def test_non_loopback_connect_is_blocked() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(OSError, match="non-loopback network access attempted"),
    ):
        sock.connect(("192.0.2.1", 443))


def test_loopback_is_allowed() -> None:
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert socket.getaddrinfo("localhost", 80)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.connect(server.getsockname())


def test_fake_aws_environment() -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert not any(name.startswith("AWS_ENDPOINT_URL") for name in os.environ)
