"""Fixtures for the vision tests. No test here may reach the network: ultralytics in particular downloads models,
fonts and packages when it thinks it may. An autouse fixture lets sockets reach only this machine (loopback, for
PostgreSQL and Redis, and unix sockets) and refuses name lookups of other hosts, so an attempted download fails
loudly instead of happening. It is in force for the whole tests/vision package (see _no_network).

The tests skip where a piece of the vision extra (torch, ultralytics, OpenCV contrib, onnxruntime, dlib, the shipped
person model) is missing only when it is not expected: with GRIDLINE_VISION=0, as scripts/bootstrap.sh leaves the
extra out. Otherwise (the default, as bootstrap installs it) such a skip is turned into a failure that names what
is missing, so that a broken install cannot pass as a green run (see pytest_runtest_makereport)."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from vision.engine import runtime

# ultralytics reads its environment once, when first imported: make it offline, with the app's config dir and
# fonts, before any test module or pytest.importorskip("ultralytics") imports it. Cheap without the vision extra.
runtime.prepare()


def vision_expected(environ=os.environ) -> bool:
    """Whether the vision extra must be installed: GRIDLINE_VISION is unset or anything but "0" (bootstrap's rule)."""
    return environ.get("GRIDLINE_VISION", "1") != "0"


def missing_extra_message(reason: str) -> str:
    return (
        f"the vision extra is expected (GRIDLINE_VISION is not 0) but this would skip: {reason}. "
        "Install it with scripts/bootstrap.sh, or run with GRIDLINE_VISION=0 to skip the tests that need it."
    )


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def fail_skip_if_vision_expected(report, environ=os.environ) -> None:
    """A skipped report (collection or test) becomes a failure that names the missing piece, when it is expected."""
    if report.skipped and not hasattr(report, "wasxfail") and vision_expected(environ):
        report.outcome = "failed"
        report.longrepr = missing_extra_message(_skip_reason(report))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """A module that skips as a whole (pytest.importorskip at its top) fails to collect instead."""
    report = yield
    fail_skip_if_vision_expected(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    fail_skip_if_vision_expected(report)
    return report


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
