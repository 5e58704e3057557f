"""Where Redis is, and how to talk about it without giving its password away.

The URL (``redis://[:password@]host[:port][/db]``, ``rediss://`` for TLS, ``unix://``) comes
from a flag or from an environment variable, so it need not appear in ``ps``; a password may
also come alone from its own variable. Every message that names the server shows
:func:`redact`'s form of the URL, and every error text from the client is scrubbed of the
password before it is shown or logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from monitor.settings import UsageError

#: the whole URL, password included (so that no flag carries it)
ENV_URL = "SEIZURE_MONITOR_REDIS_URL"
#: a password for a URL that has none
ENV_PASSWORD = "SEIZURE_MONITOR_REDIS_PASSWORD"
SCHEMES = ("redis", "rediss", "unix")
#: seconds a connect or a reply may take before the server counts as unreachable; a stalled
#: network must not hold the publisher longer than this
TIMEOUT_S = 2.0
HIDDEN = "***"


class WardError(UsageError):
    """Redis is not usable as given (a bad URL, a refused password, a patient id already
    claimed): one line for the user, the password never in it."""


def redact(url: str) -> str:
    """The URL with its password (in the user part or a ``password=`` query) shown as ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # an unparsable URL may still hold a secret: show none of it
        return "<unparsable Redis URL>"
    netloc = parts.netloc
    if password is not None:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, HIDDEN if k.lower() == "password" else v) for k, v in pairs],
                          safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@dataclass(frozen=True)
class RedisTarget:
    """A Redis server as the user named it; ``shown`` is the only form ever printed."""

    url: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    shown: str = ""

    @classmethod
    def resolve(cls, given: str | None) -> RedisTarget:
        """The flag's URL, else $SEIZURE_MONITOR_REDIS_URL; the password may come from
        $SEIZURE_MONITOR_REDIS_PASSWORD when the URL has none."""
        url = given or os.environ.get(ENV_URL, "")
        if not url:
            raise WardError(f"no Redis URL: give one (redis://host:6379/0) or set ${ENV_URL}.")
        shown = redact(url)
        try:
            parts = urlsplit(url)
            in_url = parts.password is not None or "password=" in parts.query.lower()
            port_ok = parts.scheme == "unix" or parts.port is None or parts.port > 0
        except ValueError:
            port_ok, in_url, parts = False, False, None
        if parts is None or parts.scheme not in SCHEMES or not port_ok:
            raise WardError(f"{shown}: not a Redis URL; write redis://[:password@]host[:port]"
                            "[/db], rediss:// for TLS or unix:///path/to/socket.")
        password = None if in_url else os.environ.get(ENV_PASSWORD) or None
        return cls(url, password, shown)

    @property
    def secrets(self) -> list[str]:
        """What must never appear in a message."""
        found = [self.password] if self.password else []
        try:
            parts = urlsplit(self.url)
            if parts.password:
                found.append(parts.password)
            found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
        except ValueError:
            pass
        return found

    def scrub(self, text: str) -> str:
        """``text`` with every secret (and the raw URL) replaced."""
        text = text.replace(self.url, self.shown)
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return text

    def client(self, timeout: float = TIMEOUT_S, once: bool = False, **kwargs) -> redis.Redis:
        """A client that fails fast: no retries inside redis-py (the callers reconnect on
        their own schedule and must know at once that the server is gone).

        ``once``: it connects once. redis-py otherwise connects again, silently, when its
        connection was dropped (a Redis restarted between two commands), and a writer would
        then append after writes the restarted server lost without ever looking; with
        ``once`` that command fails instead, so the writer reconciles first."""
        extra = {"password": self.password} if self.password else {}
        if once:
            made = []

            def connect_once(connection) -> None:
                if made:
                    raise redis.ConnectionError("the connection to Redis was lost")
                connection.on_connect()
                made.append(True)

            extra["redis_connect_func"] = connect_once
        return redis.Redis.from_url(self.url, socket_timeout=timeout,
                                    socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                                    **extra, **kwargs)

    def describe(self, exc: BaseException) -> str:
        """One line about a failure to use the server: the URL (redacted), what happened,
        what to do."""
        if is_auth_error(exc) and not self.secrets:
            what = (f"Redis asks for a password and none was given; put it in the URL "
                    f"(redis://:PASSWORD@host) or in ${ENV_PASSWORD}")
        elif is_auth_error(exc):
            what = (f"Redis refused the password; fix it in the URL or in ${ENV_URL} / "
                    f"${ENV_PASSWORD}")
        elif isinstance(exc, redis.TimeoutError):
            what = "no answer in time (a stalled network or an overloaded server)"
        elif isinstance(exc, redis.ConnectionError):
            what = f"cannot connect ({' '.join(str(exc).split()) or type(exc).__name__})"
        else:
            what = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return self.scrub(f"{self.shown}: {what}")


def is_auth_error(exc: BaseException) -> bool:
    """A refused or missing password: it will not fix itself, so it is told apart."""
    return isinstance(exc, redis.AuthenticationError) or (
        isinstance(exc, redis.ResponseError) and str(exc).startswith(("NOAUTH", "WRONGPASS")))
