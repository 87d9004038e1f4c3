"""The typed protocol (copilot.protocol, generated from the CLI's schemas) against the real CLI:
typed events, the typed RPC namespaces of session and client, typed results, tools whose schema
and arguments come from Python types, and the strict-types mode."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest

from copilot import CopilotClient, RpcError, SessionEvent, tool
from copilot import _protocol_rt as rt
from copilot import protocol as p
from copilot.protocol import SessionEventType


async def test_typed_events(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session({**base_config, "streaming": True}) as session:
        messages: List[p.AssistantMessageEvent] = []
        deltas: List[Any] = []
        idle: List[Any] = []
        session.on(SessionEventType.ASSISTANT_MESSAGE, messages.append)
        session.on("assistant.message_delta", deltas.append)
        session.on("session.idle", idle.append)
        answer = await session.send_and_wait("REPLY typed hello")
        assert isinstance(answer, p.AssistantMessageEvent)
        assert answer.type is SessionEventType.ASSISTANT_MESSAGE and answer.type == "assistant.message"
        assert isinstance(answer.data, p.AssistantMessageData)
        assert answer.data.content == "typed hello" and isinstance(answer.data.message_id, str)
        assert messages and all(isinstance(m, p.AssistantMessageEvent) for m in messages)
        assert deltas and all(isinstance(d.data, p.AssistantMessageDeltaData) for d in deltas)
        assert "".join(d.data.delta_content for d in deltas) == "typed hello"
        for _ in range(100):
            if idle:
                break
            await asyncio.sleep(0.05)
        assert isinstance(idle[0], p.IdleEvent)
        # The earlier dict-like reading still works at run time.
        assert answer.data.get("content") == "typed hello" and answer.data["content"] == "typed hello"
        assert answer.data.messageId == answer.data.message_id
        history = await session.get_messages()
        start = history[0]
        assert isinstance(start, p.StartEvent), type(start)
        assert start.data.session_id == session.session_id
        assert isinstance(start.data.start_time, datetime.datetime)
        user = [e for e in history if isinstance(e, p.UserMessageEvent)]
        assert user and user[-1].data.content == "REPLY typed hello"
        # Every event of the history is typed or, for a type the schema lacks, a plain SessionEvent
        # whose type is the string (never an error).
        for e in history:
            assert isinstance(e.type, SessionEventType) == (type(e) is not SessionEvent), e.type


def test_unknown_event_type_enum_and_field_fall_back() -> None:
    wire = {"type": "future.thing", "id": "1", "timestamp": "2026-01-01T00:00:00Z", "data": {"x": 1}}
    ev = SessionEvent.from_wire(wire)
    assert type(ev) is SessionEvent and ev.type == "future.thing" and ev.data.x == 1
    wire2 = {"type": "session.mode_changed", "id": "2", "timestamp": "2026-01-01T00:00:00Z",
             "data": {"previousMode": "interactive", "newMode": "warp-speed", "extra": True}}
    ev2 = SessionEvent.from_wire(wire2)
    assert isinstance(ev2, p.ModeChangedEvent)
    assert ev2.data.previous_mode is p.SessionMode.INTERACTIVE
    assert ev2.data.new_mode == "warp-speed" and not isinstance(ev2.data.new_mode, p.SessionMode)
    assert ev2.data.raw["extra"] is True and ev2.data.to_dict()["extra"] is True
    assert f"{ev2.type}" == "session.mode_changed" and {ev2.type: 1}.get("session.mode_changed") == 1


def test_params_and_results_encode_and_decode() -> None:
    params = p.SessionModelSwitchToParams(model_id="gpt-4.1", reasoning_effort="high")
    assert params.to_dict() == {"modelId": "gpt-4.1", "reasoningEffort": "high"}
    with pytest.raises(TypeError):
        p.SessionModelSwitchToParams()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        p.SessionModelSwitchToParams(model_id="x", nope=1)  # type: ignore[call-arg]
    m = p.Model.from_dict({"id": "gpt-x", "name": "GPT X", "capabilities": {"supports": {"vision": True}},
                           "policy": {"state": "enabled", "terms": "t"}, "billing": {"multiplier": 1.5}})
    assert m.id == "gpt-x" and m.capabilities.supports.vision is True
    assert m.policy is not None and m.billing is not None and m.billing.multiplier == 1.5


async def test_typed_session_rpc(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session(base_config) as session:
        changes: List[Any] = []
        session.on("session.model_change", changes.append)
        current = await session.rpc.model.get_current()
        assert isinstance(current, p.CurrentModel) and current.model_id == "gpt-4.1"
        mode = await session.rpc.mode.get()
        assert mode is p.SessionMode.INTERACTIVE
        await session.rpc.name.set(name="typed session")
        assert (await session.rpc.name.get()).name == "typed session"
        await session.rpc.plan.update(p.SessionPlanUpdateParams(content="# plan"))  # the params object
        plan = await session.rpc.plan.read()
        assert plan.exists is True and plan.content == "# plan"
        logged = await session.rpc.log(message="hello from the typed API", level=p.SessionLogLevel.WARNING)
        assert isinstance(logged.event_id, str)
        processing = await session.rpc.metadata.is_processing()
        assert processing.processing is False
        pending = await session.rpc.permissions.pending_requests()
        assert pending.items == []
        switched = await session.rpc.model.switch_to(model_id="gpt-4.1-mini")
        assert switched.model_id == "gpt-4.1-mini"
        for _ in range(100):
            if changes:
                break
            await asyncio.sleep(0.05)
        assert isinstance(changes[0], p.ModelChangeEvent) and changes[0].data.new_model == "gpt-4.1-mini"
        # The generic call: `session.call`, and the namespace object stays callable.
        raw = await session.call("session.plan.read")
        assert raw["content"] == "# plan"
        assert (await session.rpc("session.name.get"))["name"] == "typed session"
        with pytest.raises(RpcError):
            await session.call("session.no.such.method")


async def test_typed_server_rpc(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    pong = await client.rpc.ping(message="typed")
    assert isinstance(pong, p.PingResult) and pong.message == "pong: typed" and pong.protocol_version == 3
    tools = await client.rpc.tools.list()
    assert tools.tools and all(isinstance(t, p.Tool) and t.name for t in tools.tools)
    catalog = await client.rpc.models.get_built_in_catalog()
    assert catalog.models and isinstance(catalog.models[0].id, str)
    async with await client.create_session(base_config) as session:
        await session.send_and_wait("REPLY fork me")
        forked = await client.rpc.sessions.fork(session_id=session.session_id)
        assert forked.session_id and forked.session_id != session.session_id
        sizes = await client.rpc.sessions.get_sizes()
        assert sizes is not None
    assert (await client.call("tools.list", {}))["tools"]
    assert (await client.rpc("tools.list", {}))["tools"]


async def test_tool_schema_and_typed_arguments(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    @dataclasses.dataclass
    class Place:
        city: str
        country: Optional[str] = None

    got: List[Any] = []

    @tool(skip_permission=True)
    def locate(place: Place, zoom: int = 1) -> str:
        """Locate a place."""
        got.append((place, zoom))
        return f"{place.city},{place.country} x{zoom}"

    props = locate.parameters["properties"]
    assert props["place"]["properties"]["city"] == {"type": "string"} and props["zoom"] == {"type": "integer"}
    assert locate.parameters["required"] == ["place"]
    async with await client.create_session({**base_config, "tools": [locate]}) as session:
        answer = await session.send_and_wait('CALL locate {"place": {"city": "Lima", "country": "PE"}, "zoom": 3}')
        assert answer is not None and answer.data.content == "Tool returned: Lima,PE x3"
    assert got == [(Place("Lima", "PE"), 3)] and isinstance(got[0][0], Place)


def test_strict_mode_records_failures_and_counts_unknowns() -> None:
    code = """
import os
from copilot import SessionEvent
from copilot import _protocol_rt as rt
SessionEvent.from_wire({"type": "assistant.message", "id": "1", "timestamp": "t", "data": {"content": 5}})
SessionEvent.from_wire({"type": "made.up", "id": "2", "timestamp": "t", "data": {}})
SessionEvent.from_wire({"type": "session.idle", "id": "3", "timestamp": "t", "data": {"zz": 1}})
rt.decode_result("SessionMode", "warp", "session.mode.get")
print(rt.strict_summary())
print(rt.STATS.failures)
"""
    env = {**os.environ, "COPILOT_STRICT_TYPES": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("strict types: 3 events, 1 results, 0 hook inputs checked; unknown: 1 event types (made.up), "
                               "1 fields, 1 enum values; failures: "), lines[0]
    assert "AssistantMessageData.content: expected a string" in lines[1]
    assert "missing required field 'messageId'" in lines[1]
    env.pop("COPILOT_STRICT_TYPES")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0].startswith("strict types: 0 events, 0 results, 0 hook inputs checked")
