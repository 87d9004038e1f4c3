"""The official SDKs' handler signatures and small names against the real CLI: permission and
user-input handlers in the ``(request, invocation)`` form with the official result shapes,
``PermissionHandler.approve_all``, ``define_tool`` and ``ev.type.value`` for every event."""
from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from pydantic import BaseModel

from copilot import (CopilotClient, HandlerInvocation, InvalidConfigError, PermissionHandler, PermissionRequest,
                     SessionEvent, ToolInvocation, UnknownEventType, UserInputRequest, define_tool)
from copilot.protocol import SessionEventType

BASH = 'CALL bash {"command":"echo %s","description":"echo","mode":"sync"}'


def completions(events: List[SessionEvent]) -> List[Any]:
    return [e for e in events if e.type == "tool.execution_complete"]


async def test_two_argument_permission_handler_approves_with_the_session_id(
        client: CopilotClient, base_config: Dict[str, Any]) -> None:
    seen: List[Any] = []

    async def on_permission(request: PermissionRequest, invocation: Dict[str, str]) -> Dict[str, str]:
        seen.append((request, invocation))
        return {"kind": "approve-once"}

    events: List[SessionEvent] = []
    async with await client.create_session({**base_config, "on_permission_request": on_permission,
                                            "on_event": events.append}) as s:
        await s.send_and_wait(BASH % "official-approved")
        assert len(seen) == 1
        request, invocation = seen[0]
        assert isinstance(request, PermissionRequest) and request.kind == "shell"
        assert isinstance(invocation, HandlerInvocation)
        assert invocation["session_id"] == invocation.session_id == s.session_id == request.session_id
    done = completions(events)
    assert done and done[-1].data.success is True
    assert "official-approved" in json.dumps(done[-1].raw["data"])


async def test_two_argument_permission_handler_rejects_with_feedback(
        client: CopilotClient, base_config: Dict[str, Any]) -> None:
    sessions: List[str] = []

    def on_permission(request: PermissionRequest, invocation: Dict[str, str]) -> Dict[str, str]:
        sessions.append(invocation["session_id"])
        return {"kind": "reject", "feedback": "no"}

    events: List[SessionEvent] = []
    async with await client.create_session({**base_config, "on_permission_request": on_permission,
                                            "on_event": events.append}) as s:
        await s.send_and_wait(BASH % "never-runs")
        assert sessions == [s.session_id]
    done = completions(events)
    assert done and done[-1].data.success is False
    assert "never-runs" not in json.dumps(done[-1].raw["data"].get("result"))


async def test_one_argument_permission_handler_keeps_todays_call(
        client: CopilotClient, base_config: Dict[str, Any]) -> None:
    calls: List[int] = []

    def on_permission(*args: Any) -> str:  # *args: gets the invocation too (it can take it)
        calls.append(len(args))
        return "approve-once"

    def one(request: PermissionRequest) -> bool:
        calls.append(1 if isinstance(request, PermissionRequest) else -1)
        return True

    for handler in (on_permission, one):
        async with await client.create_session({**base_config, "on_permission_request": handler}) as s:
            await s.send_and_wait(BASH % "x")
    assert calls == [2, 1]


async def test_two_argument_user_input_handler_answers_ask_user(
        client: CopilotClient, base_config: Dict[str, Any]) -> None:
    seen: List[Any] = []

    async def on_input(request: UserInputRequest, invocation: Dict[str, str]) -> Dict[str, Any]:
        seen.append((request.question, request.choices, invocation["session_id"]))
        return {"answer": "blue", "wasFreeform": False}

    events: List[SessionEvent] = []
    async with await client.create_session({**base_config, "on_user_input_request": on_input,
                                            "on_event": events.append}) as s:
        answer = await s.send_and_wait(
            'CALL ask_user {"question":"Favourite colour?","choices":["red","blue"]}')
        assert seen == [("Favourite colour?", ["red", "blue"], s.session_id)]
    done = completions(events)
    assert done and done[-1].data.success is True and "blue" in json.dumps(done[-1].raw["data"])
    assert answer is not None and "blue" in answer.data.content


async def test_permission_handler_approve_all(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    assert PermissionHandler.approve_all(None, {"session_id": "s"}) == {"kind": "approve-once"}  # type: ignore[arg-type]
    events: List[SessionEvent] = []
    async with await client.create_session({**base_config, "on_permission_request": PermissionHandler.approve_all,
                                            "on_event": events.append}) as s:
        await s.send_and_wait(BASH % "approved-by-class")
    done = completions(events)
    assert done and done[-1].data.success is True
    assert "approved-by-class" in json.dumps(done[-1].raw["data"])


class CityParams(BaseModel):
    city: str
    days: int = 1


async def test_define_tool_forms(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    seen: Dict[str, Any] = {}

    def plain(params: Dict[str, Any], invocation: ToolInvocation) -> str:
        seen["plain"] = (params, invocation.session_id, invocation.tool_name)
        return f"plain got {params['word']}"

    plain_tool = define_tool("shout", description="Shouts a word", handler=plain,
                             parameters={"type": "object", "properties": {"word": {"type": "string"}},
                                         "required": ["word"]}, skip_permission=True)

    @define_tool(description="Weather for a city", skip_permission=True)
    async def forecast(params: CityParams) -> str:
        seen["model"] = params
        return f"sunny in {params.city} for {params.days} days"

    typed = define_tool("typed_forecast", description="Typed", params_type=CityParams, skip_permission=True,
                        handler=lambda p, inv: f"{p.city}/{inv.tool_name}")

    @define_tool(skip_permission=True)
    def whoami(invocation: ToolInvocation) -> str:
        """Returns the session id."""
        return f"session {invocation.session_id}"

    assert forecast.name == "forecast" and forecast.parameters == CityParams.model_json_schema()
    assert plain_tool.definition()["parameters"]["required"] == ["word"]
    assert whoami.description == "Returns the session id."
    tools = [plain_tool, forecast, typed, whoami]
    async with await client.create_session({**base_config, "tools": tools}) as s:
        a = await s.send_and_wait('CALL shout {"word":"hey"}')
        assert a is not None and "plain got hey" in a.data.content
        assert seen["plain"] == ({"word": "hey"}, s.session_id, "shout")
        a = await s.send_and_wait('CALL forecast {"city":"Oslo","days":3}')
        assert a is not None and "sunny in Oslo for 3 days" in a.data.content
        assert isinstance(seen["model"], CityParams)
        a = await s.send_and_wait('CALL typed_forecast {"city":"Rome"}')
        assert a is not None and "Rome/typed_forecast" in a.data.content
        a = await s.send_and_wait('CALL whoami {}')
        assert a is not None and f"session {s.session_id}" in a.data.content


def test_define_tool_rejects_bad_use() -> None:
    with pytest.raises(InvalidConfigError):
        define_tool(description="x", handler=lambda p: p)  # no name
    with pytest.raises(InvalidConfigError):
        define_tool("x", params_type=dict, handler=lambda p: p)  # not a pydantic model


async def test_every_event_type_has_value(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    events: List[SessionEvent] = []
    async with await client.create_session({**base_config, "on_event": events.append}) as s:
        await s.send_and_wait("REPLY values")
    assert events
    for e in events:
        assert isinstance(e.type.value, str) and e.type.value == e.type == e.raw["type"]
    assert any(e.type.value == "assistant.message" for e in events)
    unknown = SessionEvent.from_wire({"type": "future.thing", "id": "1", "timestamp": "t", "data": {}})
    assert type(unknown) is SessionEvent and isinstance(unknown.type, UnknownEventType)
    assert unknown.type.value == "future.thing" and unknown.type == "future.thing"
    assert isinstance(unknown.type, str) and json.dumps(unknown.type) == '"future.thing"'
    assert {unknown.type: 1}["future.thing"] == 1 and f"{unknown.type}" == "future.thing"
    assert not isinstance(unknown.type, SessionEventType)
