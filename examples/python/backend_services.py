"""The backend-services patterns of the guide, in Python: a chat endpoint that creates or
resumes a session per conversation, a job worker, a health check and cleanup by age.

Run against a CLI server:  CLI_URL=localhost:4321 python backend_services.py
(the HTTP endpoint then listens on 127.0.0.1:3000: POST /api/chat {"sessionId", "message"}).
"""
from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Optional

from copilot import CopilotClient, CopilotError


# -- chat endpoint: create or resume ---------------------------------------------------------

async def chat(client: CopilotClient, session_id: str, message: str) -> Dict[str, Any]:
    try:
        session = await client.resume_session(session_id)
    except CopilotError:
        session = await client.create_session({"session_id": session_id, "model": "gpt-4.1"})
    response = await session.send_and_wait({"prompt": message})
    return {"sessionId": session_id, "content": response.data.content if response else None}


async def serve_chat(client: CopilotClient, host: str = "127.0.0.1", port: int = 3000) -> asyncio.AbstractServer:
    """A minimal HTTP/1.1 JSON endpoint on the standard library: POST /api/chat."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if ":" in h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if (method, path) != ("POST", "/api/chat"):
                status, payload = "404 Not Found", {"error": "not found"}
            else:
                req = json.loads(body or b"{}")
                try:
                    status, payload = "200 OK", await chat(client, req["sessionId"], req["message"])
                except CopilotError as e:
                    status, payload = "502 Bad Gateway", {"error": str(e), "code": e.code}
            out = json.dumps(payload).encode()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(out)}\r\nConnection: close\r\n\r\n".encode() + out)
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


# -- job worker ------------------------------------------------------------------------------

async def process_job(client: CopilotClient, job: Dict[str, Any],
                      save_result: Callable[[str, Optional[str]], Awaitable[None]]) -> None:
    session = await client.create_session({"session_id": f"job-{job['id']}", "model": "gpt-4.1"})
    response = await session.send_and_wait({"prompt": job["prompt"]})
    await save_result(job["id"], response.data.content if response else None)
    await session.destroy()  # clean up after the job completes


# -- health check ----------------------------------------------------------------------------

async def check_cli_health(client: CopilotClient) -> bool:
    try:
        status = await client.get_status()
        return status is not None
    except CopilotError:
        return False


# -- cleanup by age --------------------------------------------------------------------------

async def cleanup_sessions(client: CopilotClient, max_age_seconds: float) -> int:
    sessions = await client.list_sessions()
    now = datetime.now(timezone.utc)
    deleted = 0
    for session in sessions:
        if session.created_at and (now - session.created_at).total_seconds() > max_age_seconds:
            await client.delete_session(session.session_id)
            deleted += 1
    return deleted


async def main() -> None:
    client = CopilotClient({"cli_url": os.environ.get("CLI_URL", "localhost:4321")})
    await client.start()
    server = await serve_chat(client)
    print("chat endpoint on http://127.0.0.1:3000/api/chat; healthy:", await check_cli_health(client))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
