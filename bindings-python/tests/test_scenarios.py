"""The shared, language-neutral scenarios of tests/scenarios/, against the real CLI."""
from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List

import pytest

from copilot import CopilotError, HandlerError, SessionEvent

from conftest import ROOT

SCENARIOS = sorted((ROOT / "tests/scenarios").glob("*.json"))


def test_every_scenario_file_is_collected() -> None:
    # Parametrisation below covers every file; this guards against an empty glob.
    assert len(SCENARIOS) >= 10


def _subsequence(want: List[str], got: List[str]) -> bool:
    it = iter(got)
    return all(any(g == w for g in it) for w in want)


def _config(s: Dict[str, Any], provider: Dict[str, Any], seen: Dict[str, list]) -> Dict[str, Any]:
    cfg: Dict[str, Any] = {"model": "gpt-4.1", "provider": provider}
    if "streaming" in s:
        cfg["streaming"] = s["streaming"]
    tools = []
    for t in s.get("tools", []):
        def make(t: Dict[str, Any]) -> Any:
            async def handler(arguments: Dict[str, Any]) -> str:
                if "fail" in t:
                    raise RuntimeError(t["fail"])
                return t.get("result", "")
            return handler
        tools.append({"name": t["name"], "description": t.get("description"), "parameters": t.get("parameters"),
                      "skip_permission": t.get("skipPermission", False), "handler": make(t)})
    if tools:
        cfg["tools"] = tools
    if "permission" in s:
        decision, feedback = s["permission"], s.get("permissionFeedback")

        def on_permission(req: Any) -> Any:  # a sync handler
            seen["permission"].append(req.kind)
            if decision == "fail":
                raise RuntimeError("permission handler exploded")
            if decision == "reject":
                return {"kind": "reject", "feedback": feedback}
            return decision
        cfg["on_permission_request"] = on_permission
    if "userInput" in s:
        ui = s["userInput"]

        async def on_input(req: Any) -> Any:
            seen["questions"].append(req.question)
            if "fail" in ui:
                raise RuntimeError(ui["fail"])
            return {"answer": ui["answer"], "was_freeform": False}
        cfg["on_user_input_request"] = on_input
    if s.get("hooks"):
        def record(name: str) -> Any:
            def hook(input: Dict[str, Any], invocation: Any) -> None:
                seen["hooks"].append(invocation.hook_type)
            return hook
        cfg["hooks"] = {name: record(name) for name in (
            "on_session_start", "on_user_prompt_submitted", "userPromptTransformed", "pre_tool_use",
            "post_tool_use", "post_tool_use_failure", "agent_stop", "session_end")}
    return cfg


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(path: pathlib.Path, client: Any, fake_model: Any) -> None:
    sc = json.loads(path.read_text())
    assert sc["name"] == path.stem
    seen: Dict[str, list] = {"permission": [], "questions": [], "hooks": []}
    session = await client.create_session(_config(sc["session"], fake_model.provider, seen))
    async with session:
        for i, turn in enumerate(sc["turns"]):
            ctx = f"{sc['name']} turn {i}"
            for v in seen.values():
                v.clear()
            events: List[SessionEvent] = []
            unsubscribe = session.on(events.append)
            x = turn["expect"]
            try:
                answer_event = await session.send_and_wait({"prompt": turn["prompt"]}, timeout=90)
            except CopilotError as e:
                assert x.get("error") == e.code, f"{ctx}: {e!r}"
                continue
            finally:
                unsubscribe()
            assert "error" not in x, f"{ctx}: expected {x['error']}"
            types = [e.type for e in events]
            answer = (answer_event.data.content if answer_event else "") or ""
            if "answer" in x:
                assert answer == x["answer"], ctx
            for s in x.get("answerContains", []):
                assert s in answer, f"{ctx}: {answer!r} lacks {s!r}"
            assert _subsequence(x.get("events", []), types), f"{ctx}: {x.get('events')} not in {types}"
            for t in x.get("noEvents", []):
                assert t not in types, f"{ctx}: unexpected {t}"
            if "toolComplete" in x:
                done = [e for e in events if e.type == "tool.execution_complete"]
                assert done, f"{ctx}: no tool.execution_complete"
                assert done[-1].data.success == x["toolComplete"]["success"], f"{ctx}: {done[-1].data}"
                if "contains" in x["toolComplete"]:
                    assert x["toolComplete"]["contains"] in json.dumps(done[-1].data), ctx
            if "permissionKinds" in x:
                assert seen["permission"] == x["permissionKinds"], ctx
            if "userInputQuestions" in x:
                assert seen["questions"] == x["userInputQuestions"], ctx
            assert _subsequence(x.get("hooks", []), seen["hooks"]), f"{ctx}: hooks {seen['hooks']}"
            if x.get("deltasConcatenate"):
                mid = answer_event.data.message_id
                deltas = [e.data.delta_content for e in events
                          if e.type == "assistant.message_delta" and e.data.message_id == mid]
                assert len(deltas) >= 2, ctx
                assert "".join(deltas) == answer, ctx
