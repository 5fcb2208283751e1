"""tests/unit holds pure tests only: no moto, no server, no network, no subprocess (tests against moto and
the simulated AI services belong in tests/integration). This file keeps it so: a unit test asking for a
server fixture is a collection error, and one that opens a connection or starts a process fails."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

UNIT_DIR = Path(__file__).resolve().parent
SERVER_FIXTURES = {"moto_endpoint", "ai_double"}  # every service-backed fixture depends on one of these


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(UNIT_DIR) and SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} uses a server fixture: it belongs in tests/integration")


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError(
            "tests/unit is pure: this test reaches a network or a process (tests/integration?)"
        )

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
