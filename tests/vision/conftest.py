"""Fixtures for the vision tests. No test here may reach the network: ultralytics in particular downloads models,
fonts and packages when it thinks it may. An autouse fixture lets sockets reach only this machine (loopback, for
PostgreSQL and Redis, and unix sockets) and refuses name lookups of other hosts, so an attempted download fails
loudly instead of happening. It is in force for the whole tests/vision package (see _no_network)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from vision.engine import runtime

# ultralytics reads its environment once, when first imported: make it offline, with the app's config dir and
# fonts, before any test module or pytest.importorskip("ultralytics") imports it. Cheap without the vision extra.
runtime.prepare()

LOCAL_NAMES = {None, "", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlocked(OSError):
    """A vision test tried to reach another machine."""


# Every refused attempt, also those that the code under test caught and swallowed (ultralytics does, in places).
BLOCKED: list[str] = []


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address) -> None:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_local(host):
        BLOCKED.append(f"connect {address!r}")
        raise NetworkBlocked(f"network access blocked in vision tests: {address!r}")


@pytest.fixture(autouse=True, scope="package")
def _no_network():
    """Package-scoped, so that it is in place before any module- or class-scoped fixture (a training run) too."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _block(monkeypatch)
        yield


@pytest.fixture(scope="package")
def blocked_network_attempts() -> list[str]:
    """The attempts refused so far in this session (a list that grows): compare its length before and after."""
    return BLOCKED


def _block(monkeypatch: pytest.MonkeyPatch) -> None:
    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    getaddrinfo = socket.getaddrinfo

    def guarded_connect(self, address):
        _check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        _check(self, address)
        return connect_ex(self, address)

    def guarded_sendto(self, data, *args):
        _check(self, args[-1])
        return sendto(self, data, *args)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            BLOCKED.append(f"lookup {host!r}")
            raise NetworkBlocked(f"name lookup blocked in vision tests: {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", guarded_sendto)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
