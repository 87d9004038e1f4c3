"""Typed hooks against the real CLI: a hook function receives the generated ``<Type>HookInput``
(an instance that is also the wire dict) and may return the generated ``<Type>HookOutput``."""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List

from conftest import FakeModel

from copilot import CopilotClient, HookInvocation, tool
from copilot import _protocol_rt as rt
from copilot.protocol import (PostToolUseHookInput, PreToolUseHookInput, PreToolUseHookOutput,
                              PreToolUseHookOutputPermissionDecision, UserPromptSubmittedHookInput,
                              UserPromptSubmittedHookOutput)


def _completions(ev_list: List[Any]) -> List[Dict[str, Any]]:
    return [e.raw for e in ev_list if e.type == "tool.execution_complete"]


async def test_typed_pre_tool_use_denies_with_reason(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    seen: List[Any] = []

    @tool(skip_permission=True)
    def get_weather(city: str) -> str:
        """Weather."""
        return "never"

    def deny(input: PreToolUseHookInput, invocation: HookInvocation) -> PreToolUseHookOutput:
        seen.append((input, invocation))
        return PreToolUseHookOutput(permission_decision=PreToolUseHookOutputPermissionDecision.DENY,
                                    permission_decision_reason="typed says no")

    events: List[Any] = []
    before = time.time() * 1000
    async with await client.create_session({**base_config, "tools": [get_weather],
                                            "hooks": {"preToolUse": deny}}) as session:
        session.on(events.append)
        await session.send_and_wait('CALL get_weather {"city":"Rome"}')
        sid = session.session_id
    after = time.time() * 1000
    assert len(seen) == 1, seen
    input, inv = seen[0]
    assert isinstance(input, PreToolUseHookInput) and isinstance(input, dict)
    assert input.tool_name == "get_weather" == input["toolName"]
    assert input.session_id == sid == inv.session_id
    assert isinstance(input.timestamp, (int, float)) and before - 60_000 <= input.timestamp <= after + 60_000
    assert isinstance(input.cwd, str) and input.cwd
    assert input.tool_args == {"city": "Rome"} or json.loads(input.tool_args) == {"city": "Rome"}
    # The untyped view of the same object still works (json, dict equality).
    assert json.loads(json.dumps(input)) == dict(input) == input.raw
    done = _completions(events)
    assert done and done[-1]["data"]["success"] is False
    assert "Denied by preToolUse hook: typed says no" in json.dumps(done[-1]["data"])


async def test_typed_user_prompt_submitted_context_reaches_model(client: CopilotClient) -> None:
    logged = FakeModel(log=True)
    try:
        seen: List[UserPromptSubmittedHookInput] = []

        async def add_context(input: UserPromptSubmittedHookInput, invocation: HookInvocation) -> Any:
            seen.append(input)
            return UserPromptSubmittedHookOutput(additional_context="PY-TYPED-CONTEXT-4711")

        async with await client.create_session({"model": "gpt-4.1", "provider": logged.provider,
                                                "hooks": {"on_user_prompt_submitted": add_context}}) as session:
            await session.send_and_wait("ECHO hello typed hooks")
            sid = session.session_id
        assert [type(i) for i in seen] and all(isinstance(i, UserPromptSubmittedHookInput) for i in seen)
        assert seen[0].prompt == "ECHO hello typed hooks" and seen[0].session_id == sid
        reqs = [r for r in logged.requests() if r["path"].endswith("/chat/completions")]
        assert reqs and "PY-TYPED-CONTEXT-4711" in json.dumps(reqs[-1]["body"]["messages"])
    finally:
        logged.close()


async def test_typed_post_tool_use_sees_result(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    seen: List[PostToolUseHookInput] = []

    @tool(skip_permission=True)
    def get_weather(city: str) -> str:
        """Weather."""
        return f"sunny in {city}"

    def post(input: PostToolUseHookInput, invocation: HookInvocation) -> None:
        seen.append(input)

    async with await client.create_session({**base_config, "tools": [get_weather],
                                            "hooks": {"post_tool_use": post}}) as session:
        await session.send_and_wait('CALL get_weather {"city":"Oslo"}')
    mine = [i for i in seen if i.tool_name == "get_weather"]
    assert mine, seen
    assert isinstance(mine[0], PostToolUseHookInput)
    assert mine[0].tool_result is not None and "sunny in Oslo" in (mine[0].tool_result.text_result_for_llm or "")


def test_unreadable_hook_input_is_a_strict_failure(monkeypatch: Any) -> None:
    monkeypatch.setattr(rt, "STRICT", True)
    n = len(rt.STATS.failures)
    try:
        rt.hook_input("preToolUse", {"sessionId": "s", "timestamp": "yesterday", "cwd": "/"})
        new = rt.STATS.failures[n:]
        assert any("PreToolUseHookInput.timestamp" in f for f in new), new
        assert any("missing required field 'toolName'" in f for f in new), new
    finally:
        del rt.STATS.failures[n:]
    assert rt.hook_input("notAHookType", {"a": 1}) == {"a": 1}
