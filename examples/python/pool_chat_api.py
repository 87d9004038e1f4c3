"""The chat API of the HA deployment, in Python: several instances of this server behind a load
balancer, over a pool of CLI servers that share their state directory, with session leases in
Redis. Any instance may get any request of a conversation: each request opens the session
(taking its lease), runs the turn and lets go of it, so no instance keeps a stale copy.

    POST /chat {"sessionId", "message"}      (also /api/chat)
         -> {"sessionId", "content", "server", "leaseToken", "instance", "recovered"}
    GET  /messages?sessionId=...  -> {"userMessages": [...]}
    GET  /healthz                 -> ok
    GET  /metrics                 -> the pool's counters (Prometheus text)

Environment: PORT (default 8080), HOST (default 127.0.0.1; 0.0.0.0 in a container), COPILOT_POOL_URLS (comma-separated host:port), REDIS_URL,
COPILOT_PROVIDER_URL (optional: a BYOK OpenAI-compatible endpoint, e.g.
http://127.0.0.1:8000/v1; without it the CLI servers' own model access is used), INSTANCE (this
instance's name, also its lease owner), LEASE_LOG (optional: a JSONL file that gets an
``acquire`` and a ``release`` record around every lease this instance holds),
COPILOT_CONNECTION_TOKEN (optional: the CLI servers' connection token).

The HTTP side is a minimal HTTP/1.1 handler on asyncio streams (one request per connection), so
the example needs nothing but this SDK. Run: ``python pool_chat_api.py``. The HA test
(tests/ha/run.py) runs two of these behind nginx.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from copilot import (CopilotError, CopilotPool, CopilotSession, LeaseHeldError, LeaseLostError, NoServerError,
                     ReconnectingError, SessionEvent, SessionNotFoundError, TurnOutcomeUnknownError)

INSTANCE = os.environ.get("INSTANCE") or f"api-{os.getpid()}"
LEASE_LOG = os.environ.get("LEASE_LOG")
OPEN_BUDGET = 60.0  # seconds to keep retrying an open (lease held, no server up, reconnecting)
TURN_TIMEOUT = 120.0

log = logging.getLogger("pool_chat_api")


def session_config() -> Dict[str, Any]:
    config: Dict[str, Any] = {"model": "gpt-4.1"}
    provider = os.environ.get("COPILOT_PROVIDER_URL")
    if provider:
        config["provider"] = {"type": "openai", "base_url": provider, "api_key": "x"}
    return config


def make_pool() -> CopilotPool:
    options: Dict[str, Any] = {
        "urls": os.environ.get("COPILOT_POOL_URLS", "127.0.0.1:4321"),
        "health_interval": 1,
        "lease": {"redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), "owner": INSTANCE},
    }
    token = os.environ.get("COPILOT_CONNECTION_TOKEN")
    if token:
        options["connection_token"] = token
    return CopilotPool(options)


# -- leases ---------------------------------------------------------------------------------

_lease_log = open(LEASE_LOG, "a", buffering=1) if LEASE_LOG else None


def log_lease(event: str, session: CopilotSession) -> None:
    """One JSON line per event; ``t`` is wall-clock nanoseconds, comparable across processes."""
    if _lease_log is not None:
        _lease_log.write(json.dumps({"event": event, "sessionId": session.session_id, "token": session.lease_token,
                                     "t": time.time_ns(), "instance": INSTANCE}) + "\n")


def worth_retrying_open(e: CopilotError) -> bool:
    return isinstance(e, (LeaseHeldError, NoServerError, ReconnectingError)) or e.is_retriable


async def open_session(pool: CopilotPool, session_id: str, create: bool) -> CopilotSession:
    """Opens the session with its lease (creating it on its first request), retrying while
    another instance holds the lease, no server is up or a server is reconnecting."""
    deadline = time.monotonic() + OPEN_BUDGET
    delay = 0.05
    while True:
        try:
            try:
                session = await pool.resume_session(session_id, session_config())
            except SessionNotFoundError:
                if not create:
                    raise
                session = await pool.create_session(session_config(), session_id=session_id)
            log_lease("acquire", session)
            return session
        except CopilotError as e:
            if not worth_retrying_open(e) or time.monotonic() + delay > deadline:
                raise
            log.info("opening %s: %s (retrying in %.2f s)", session_id, e.code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def close_session(session: CopilotSession) -> None:
    """Logs the release, then lets go of the session (its lease goes with it). Never raises."""
    log_lease("release", session)
    try:
        await session.disconnect()
    except CopilotError as e:
        log.info("disconnecting %s: %s", session.session_id, e)


# -- the chat turn --------------------------------------------------------------------------

def recoverable(e: BaseException) -> bool:
    """A failed turn that may have run, or whose server (or lease) went away: look at the history."""
    return isinstance(e, (TurnOutcomeUnknownError, LeaseLostError)) or (
        isinstance(e, CopilotError) and e.is_retriable)


def outcome(events: List[SessionEvent], message: str) -> Tuple[str, Optional[str]]:
    """What the history says about ``message``: ("absent", None), ("answered", content) or
    ("unanswered", None). A "[continue] " prompt after it still belongs to it."""
    at = next((i for i in range(len(events) - 1, -1, -1)
               if events[i].type == "user.message" and events[i].data.get("content") == message), -1)
    if at < 0:
        return "absent", None
    answer = None
    for e in events[at + 1:]:
        if e.type == "user.message" and not str(e.data.get("content", "")).startswith("[continue] "):
            break
        if e.type == "assistant.message" and not e.agent_id:
            answer = str(e.data.get("content") or "")
    return ("answered", answer) if answer is not None else ("unanswered", None)


async def chat(pool: CopilotPool, session_id: str, message: str) -> Dict[str, Any]:
    session = await open_session(pool, session_id, create=True)
    prompt, recovered = message, None
    try:
        for attempt in range(1, 6):
            try:
                ev = await session.send_and_wait(prompt, timeout=TURN_TIMEOUT)
                return reply(session, ev.data.content if ev is not None else "", recovered)
            except CopilotError as e:
                if not recoverable(e) or attempt == 5:
                    raise
                log.warning("turn of %s failed (%s): recovering", session_id, e.code)
            # The server went away during the turn: let go, open the session again (the pool
            # places it on a healthy server) and read what its history says.
            await close_session(session)
            session = await open_session(pool, session_id, create=False)
            state, content = outcome(await session.get_messages(), message)
            if state == "answered":
                return reply(session, content or "", "answered")
            prompt, recovered = (message, "resent") if state == "absent" else (f"[continue] {message}", "continued")
        raise AssertionError("unreachable")
    finally:
        await close_session(session)


def reply(session: CopilotSession, content: str, recovered: Optional[str]) -> Dict[str, Any]:
    return {"sessionId": session.session_id, "content": content, "server": session.server,
            "leaseToken": session.lease_token, "instance": INSTANCE, "recovered": recovered}


async def user_messages(pool: CopilotPool, session_id: str) -> Dict[str, Any]:
    session = await open_session(pool, session_id, create=False)
    try:
        events = await session.get_messages()
    finally:
        await close_session(session)
    return {"userMessages": [e.data.get("content") for e in events if e.type == "user.message"]}


# -- HTTP -----------------------------------------------------------------------------------

async def route(pool: CopilotPool, method: str, target: str, body: bytes) -> Tuple[int, str, bytes]:
    url = urlsplit(target)
    if method == "GET" and url.path == "/healthz":
        return 200, "text/plain", b"ok"
    if method == "GET" and url.path == "/metrics":
        return 200, "text/plain; version=0.0.4", pool.metrics_prometheus().encode()
    try:
        if method == "POST" and url.path in ("/chat", "/api/chat"):
            req = json.loads(body or b"{}")
            if not isinstance(req.get("sessionId"), str) or not isinstance(req.get("message"), str):
                return 400, "application/json", b'{"error": "sessionId and message (strings) are required"}'
            payload = await chat(pool, req["sessionId"], req["message"])
        elif method == "GET" and url.path == "/messages":
            sid = parse_qs(url.query).get("sessionId", [""])[0]
            if not sid:
                return 400, "application/json", b'{"error": "sessionId is required"}'
            payload = await user_messages(pool, sid)
        else:
            return 404, "application/json", b'{"error": "not found"}'
    except SessionNotFoundError as e:
        return 404, "application/json", json.dumps({"error": str(e), "code": e.code}).encode()
    except CopilotError as e:
        log.error("%s %s failed: %s", method, target, e)
        return 502, "application/json", json.dumps({"error": str(e), "code": e.code}).encode()
    return 200, "application/json", json.dumps(payload).encode()


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway"}


async def handle(pool: CopilotPool, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if ":" in h)}
        body = await reader.readexactly(int(headers.get("content-length") or 0))
        try:
            status, ctype, out = await route(pool, method, target, body)
        except Exception as e:  # a bug here must still answer
            log.exception("%s %s", method, target)
            status, ctype, out = 500, "application/json", json.dumps({"error": repr(e)}).encode()
        writer.write(f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: {ctype}\r\n"
                     f"Content-Length: {len(out)}\r\nConnection: close\r\n\r\n".encode("latin-1") + out)
        await writer.drain()
    except (asyncio.IncompleteReadError, ValueError, ConnectionError):
        pass  # a client that went away, or not HTTP
    finally:
        writer.close()


async def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {INSTANCE} %(levelname)s %(name)s: %(message)s")
    pool = make_pool()
    await pool.start()
    server = await asyncio.start_server(lambda r, w: handle(pool, r, w), os.environ.get("HOST", "127.0.0.1"),
                                        int(os.environ.get("PORT", "8080")), backlog=256)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    log.info("listening on %s, pool %s", server.sockets[0].getsockname(), pool.urls)
    async with server:
        await stop.wait()
    server.close()
    await pool.stop()  # releases the leases this instance still holds


if __name__ == "__main__":
    asyncio.run(main())
