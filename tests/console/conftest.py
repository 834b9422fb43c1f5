"""Fixtures for console tests (helpers live in _console.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console._console import USERS, AdminClient, ConsoleKitchen, start_kitchen


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleKitchen]:
    """One kitchen per test module (fake upstream, fake vLLM, gateway, four console users)."""
    k = start_kitchen(tmp_path_factory.mktemp("console"))
    yield k
    k.stop()


@pytest.fixture(scope="module")
def as_user(kitchen: ConsoleKitchen) -> dict[str | None, AdminClient]:
    """One logged-in client per user (logins cost a scrypt each), and one not logged in."""
    clients: dict[str | None, AdminClient] = {u: kitchen.client(u) for u in USERS}
    clients[None] = kitchen.client()
    return clients
