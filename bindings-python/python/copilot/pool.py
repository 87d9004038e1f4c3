"""Several running CLI servers used as one (the core's ``Pool``; this module only converts).

Each session is placed by rendezvous hashing of its id over the healthy servers, so every
backend instance with the same server list picks the same server without talking to the
others. When a server is lost its sessions continue on the next server of their ranking (by
resume: the servers must share their state directory, i.e. the same ``HOME`` /
``COPILOT_HOME``); ``drain(url)`` moves them at their next prompt. With ``lease`` set, opening a
session takes its lease in Redis first, so two instances never drive one session at once.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List, Optional

from . import _copilot
from .client import (CopilotClient, CopilotSession, Reaper, _cleanup, _consumer, _interval, _open_session,
                     _options, _seconds, _stop_reapers, _sync_log_level)
from .errors import CopilotError, InvalidConfigError
from .types import Seconds, SessionMetadata


class CopilotPool:
    """A pool of CLI servers (``urls``). Options are a dict (snake_case or camelCase keys) and/or
    keyword arguments: ``urls`` (required), ``lease={"redis_url", "ttl", "wait", "owner",
    "key_prefix"}``, ``health_interval``, and any client option (``connection_token``,
    ``request_timeout``, ``reconnect``, ...) applied to each server's client. Durations are
    seconds or ``timedelta``. ``async with CopilotPool(...)`` starts and stops it; any call on
    a never-started pool starts it.

    Sessions are ordinary :class:`CopilotSession` objects (handlers, events, ``send_and_wait``
    work as on a client's), with :attr:`CopilotSession.server` and
    :attr:`CopilotSession.lease_token`. Disconnecting a session releases its lease."""

    def __init__(self, options: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        _sync_log_level()
        self._native = _copilot.NativePool(_seconds(_options(options, kwargs, "pool options")))
        self._reapers: List[Reaper] = []
        self._clients: Dict[str, CopilotClient] = {}

    async def start(self) -> None:
        """Connects to every server; succeeds when at least one answers (the others are tried
        again in the background), else raises :class:`NoServerError`. Idempotent."""
        _sync_log_level()
        await self._native.start()

    async def stop(self) -> None:
        """Stops its reapers, releases every lease, detaches every session and closes the
        connections to the servers (they keep running)."""
        _stop_reapers(self._reapers)
        await self._native.stop()

    async def __aenter__(self) -> "CopilotPool":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # ------------------------------------------------------------------ sessions

    async def create_session(self, config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> CopilotSession:
        """Creates a session on its server (``session_id`` in the config, or a new one), taking
        its lease first when leases are on (waiting up to ``lease.wait``, else
        :class:`LeaseHeldError`)."""
        return await _open_session(self._native, None, _options(config, kwargs, "session config"))

    async def resume_session(self, session_id: str, config: Optional[Dict[str, Any]] = None,
                             **kwargs: Any) -> CopilotSession:
        """Resumes a session on its server (lease first, as for :meth:`create_session`). A
        session no server knows raises :class:`SessionNotFoundError`."""
        if not session_id:
            raise InvalidConfigError("resume_session needs a session id")
        return await _open_session(self._native, session_id, _options(config, kwargs, "session config"))

    async def list_sessions(self, filter: Optional[Dict[str, Any]] = None) -> List[SessionMetadata]:
        """Sessions stored by the servers, each once."""
        return [SessionMetadata.from_wire(o) for o in await self._native.list_sessions(filter)]

    async def delete_session(self, session_id: str) -> None:
        await self._native.delete_session(session_id)

    # ------------------------------------------------------------------- servers

    @property
    def urls(self) -> List[str]:
        return self._native.urls()

    def servers(self) -> List[Dict[str, Any]]:
        """Each server's state: ``[{url, healthy, draining, openSessions}]``."""
        return self._native.servers()

    def ranking(self, session_id: str) -> List[str]:
        """The servers ranked for a session (first: where it goes when all are healthy)."""
        return self._native.ranking(session_id)

    def server_for(self, session_id: str) -> Optional[str]:
        """Where a new or resumed session would be placed now (None: no server is usable)."""
        return self._native.server_for(session_id)

    def drain(self, url: str) -> None:
        """Stops placing sessions on ``url``; its open sessions move at their next prompt (a
        rolling restart: drain, wait until :meth:`servers` shows no open session there,
        restart it, :meth:`undrain`)."""
        self._native.drain(url)

    def undrain(self, url: str) -> None:
        self._native.undrain(url)

    def client(self, url: str) -> CopilotClient:
        """The client of one server (server-level calls: ``ping``, ``rpc``, ``on_lifecycle``,
        ``metrics``). It belongs to the pool: do not stop it."""
        c = self._clients.get(url)
        if c is None:
            c = self._clients[url] = CopilotClient._of(self._native.client(url))
        return c

    # ---------------------------------------------------------------- operations

    async def cleanup_sessions(self, *, max_age: Optional[Seconds] = None, max_idle: Optional[Seconds] = None,
                               include_open: bool = False) -> List[SessionMetadata]:
        """Deletes stored sessions across the pool started longer than ``max_age`` ago or not
        modified for ``max_idle`` (at least one), and returns them; never one open on this pool
        unless ``include_open``, never one whose lease another instance holds."""
        return [SessionMetadata.from_wire(o)
                for o in await self._native.cleanup_sessions(_cleanup(max_age, max_idle, include_open))]

    def start_reaper(self, interval: Seconds, *, max_age: Optional[Seconds] = None,
                     max_idle: Optional[Seconds] = None, include_open: bool = False,
                     on_sweep: Optional[Callable[[List[SessionMetadata], Optional[CopilotError]], Any]] = None
                     ) -> Reaper:
        """Runs :meth:`cleanup_sessions` every ``interval`` until the returned :class:`Reaper`
        is stopped (or the pool is). ``on_sweep(deleted, error)`` (sync or async, optional)
        hears each sweep on the event loop running now: the deleted sessions (maybe none), or
        ``[]`` and the error."""
        cb = None
        if on_sweep is not None:
            if not callable(on_sweep):
                raise InvalidConfigError("on_sweep must be callable")
            asyncio.get_running_loop()  # the sweeps are delivered on this loop
            call = _consumer(lambda pair: on_sweep(*pair), "reaper")

            def cb(deleted: Optional[List[Dict[str, Any]]], error: Optional[CopilotError]) -> None:
                call(([SessionMetadata.from_wire(o) for o in deleted or []], error))
        native = self._native.start_reaper(_interval(interval), _cleanup(max_age, max_idle, include_open), cb)
        return Reaper(native, self._reapers)

    def metrics(self) -> Dict[str, Any]:
        """Counters per server and for the pool: ``{servers: [{url, healthy, draining, calls,
        errors, reconnects, connectionLosses, failoversIn, failoversOut, openSessions, turns}],
        failovers, leasesAcquired, leasesLost, leaseWaits, reaped, placementErrors,
        openSessions, healthyServers}``."""
        return self._native.metrics()

    def metrics_prometheus(self) -> str:
        """:meth:`metrics` in the Prometheus text format (per-server series labelled
        ``server="<url>"``, and the pool's totals)."""
        return self._native.metrics_prometheus()

    def __repr__(self) -> str:
        return f"CopilotPool({self.urls!r})"
