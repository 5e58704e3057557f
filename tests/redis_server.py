"""Fixtures for the ward's tests: a real redis-server on a free port in a temp folder (no
fakeredis). A test module imports them (pytest puts tests/ on the path):
``from redis_server import redis_factory, redis_server``."""

from __future__ import annotations

import pytest

from monitor.measure.redis_server import LocalRedis


@pytest.fixture
def redis_factory(tmp_path):
    """Start servers with options (``password=``, ``appendonly=``); all stopped at the end."""
    servers: list[LocalRedis] = []

    def make(**kwargs) -> LocalRedis:
        server = LocalRedis(tmp_path / f"redis{len(servers)}", **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def redis_server(redis_factory) -> LocalRedis:
    """A plain server: no password, no persistence."""
    return redis_factory()
