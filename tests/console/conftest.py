"""Fixtures for console tests (helpers live in _console.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console._console import ConsoleKitchen, start_kitchen


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleKitchen]:
    """One kitchen per test module (fake upstream, fake vLLM, gateway, four console users)."""
    k = start_kitchen(tmp_path_factory.mktemp("console"))
    yield k
    k.stop()
