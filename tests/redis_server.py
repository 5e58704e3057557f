"""Fixtures for the ward's tests: a real redis-server on a free port in a temp folder (no
fakeredis). A test module imports them (pytest puts tests/ on the path) as
``from redis_server import redis_factory_fixture, redis_server_fixture  # noqa: F401``;
its tests then ask for ``redis_server`` or ``redis_factory``."""

from __future__ import annotations

import pytest

from monitor.measure.redis_server import LocalRedis


@pytest.fixture(name="redis_factory")
def redis_factory_fixture(tmp_path):
    """Start servers with options (``password=``, ``appendonly=``); all stopped at the end."""
    servers: list[LocalRedis] = []

    def make(**kwargs) -> LocalRedis:
        server = LocalRedis(tmp_path / f"redis{len(servers)}", **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(name="redis_server")
def redis_server_fixture(redis_factory) -> LocalRedis:
    """A plain server: no password, no persistence."""
    return redis_factory()

