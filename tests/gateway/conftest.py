"""Fixtures for gateway tests (helpers live in _gwutil.py; the fake upstream in tests/_support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway._gwutil import FakeUpstream, Gateway, create_pg_database, drop_pg_database


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeUpstream]:
    up = FakeUpstream()
    yield up
    up.stop()


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    made: list[Gateway] = []

    def make(gateway_cfg: dict[str, Any], sub: str = "gw", **kw: Any) -> Gateway:
        gw = Gateway(tmp_path / sub, gateway_cfg, **kw)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of this test only (created empty, dropped afterwards)."""
    url = create_pg_database(postgres_url)
    yield url
    drop_pg_database(postgres_url, url)
