"""The backend-services samples (examples/python/backend_services.py and the guide's own
snippet) run against the real CLI."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from typing import Any, Dict, Optional

from copilot import CopilotClient

from conftest import ROOT, TOKEN

spec = importlib.util.spec_from_file_location("backend_services", ROOT / "examples/python/backend_services.py")
samples = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(samples)  # type: ignore[union-attr]


async def test_guide_snippet_as_written(byok_server: Any) -> None:
    user_id, message = "alice", "REPLY hi alice"
    client = CopilotClient({
        "cli_url": f"localhost:{byok_server.port}",
        "connection_token": TOKEN,
    })
    await client.start()
    session = await client.create_session({
        "session_id": f"user-{user_id}-{int(time.time())}",
        "model": "gpt-4.1",
    })
    response = await session.send_and_wait({"prompt": message})
    assert response.data.content == "hi alice"
    await client.stop()


async def _post(port: int, body: Dict[str, Any]) -> Dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode()
    writer.write(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(data) + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    return json.loads(payload)


async def test_chat_endpoint_creates_then_resumes(byok_server: Any) -> None:
    async with CopilotClient(cli_url=f"127.0.0.1:{byok_server.port}", connection_token=TOKEN) as client:
        server = await samples.serve_chat(client, port=0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            sid = f"chat-{time.time_ns()}"
            first = await _post(port, {"sessionId": sid, "message": "REPLY first"})
            assert first == {"sessionId": sid, "content": "first"}
            second = await _post(port, {"sessionId": sid, "message": "REPLY second"})
            assert second["content"] == "second"
        # The conversation holds both turns: the second request resumed the first's session.
        s = await client.resume_session(sid)
        prompts = [e.data.content for e in await s.get_messages() if e.type == "user.message"]
        assert prompts == ["REPLY first", "REPLY second"]


async def test_job_worker_health_and_cleanup(byok_server: Any) -> None:
    async with CopilotClient(cli_url=f"127.0.0.1:{byok_server.port}", connection_token=TOKEN) as client:
        assert await samples.check_cli_health(client) is True
        results: Dict[str, Optional[str]] = {}

        async def save(job_id: str, content: Optional[str]) -> None:
            results[job_id] = content

        jobs = [{"id": f"{time.time_ns()}-{i}", "prompt": f"REPLY job {i}"} for i in range(3)]
        await asyncio.gather(*(samples.process_job(client, j, save) for j in jobs))
        assert results == {j["id"]: f"job {i}" for i, j in enumerate(jobs)}
        # Nothing is older than a day; everything is older than "0 seconds ago".
        assert await samples.cleanup_sessions(client, 24 * 3600) == 0
        job_ids = {f"job-{j['id']}" for j in jobs}
        before = {m.session_id for m in await client.list_sessions()}
        assert job_ids <= before
        assert await samples.cleanup_sessions(client, 0) >= len(job_ids)
        after = {m.session_id for m in await client.list_sessions()}
        assert not job_ids & after
    unhealthy = CopilotClient(cli_url="127.0.0.1:1")
    assert await samples.check_cli_health(unhealthy) is False
