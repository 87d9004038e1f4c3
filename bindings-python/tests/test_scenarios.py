"""The shared, language-neutral scenarios of tests/scenarios/, against the real CLI.

Every file runs, with every field of the format (tests/scenarios/README.md; the reference runner
is core/tests/scenarios.rs). Handlers record what they received (the typed request object's
``raw``, which is the core's payload) and return the scenario's reply as it is.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional, Set

import pytest

from copilot import CopilotClient, CopilotError, SessionEvent

from conftest import ROOT

SCENARIOS = sorted((ROOT / "tests/scenarios").glob("*.json"))
RAN: Set[str] = set()

SESSION_FIELDS = {"streaming", "tools", "permission", "permissionFeedback", "userInput", "hooks", "systemMessage",
                  "mode", "handlers"}
TURN_FIELDS = {"prompt", "expect", "subscribe"}
EXPECT_FIELDS = {"answer", "answerContains", "error", "events", "noEvents", "toolComplete", "hooks", "permissionKinds",
                 "userInputQuestions", "deltasConcatenate", "requests", "eventData", "filteredEvents",
                 "resultAfterEvents"}

# The config key of each handler kind's callable.
HANDLER_KEYS = {"permission": "on_permission_request", "userInput": "on_user_input_request",
                "systemMessageTransform": "on_system_message_transform", "exitPlanMode": "on_exit_plan_mode",
                "providerToken": "on_provider_token", "autoModeSwitch": "on_auto_mode_switch",
                "elicitation": "on_elicitation_request", "mcpAuth": "on_mcp_auth_request",
                "gitHubToken": "github_token_provider"}

# `"hooks": true`: hook functions for these types (spelled several ways), each answering None.
ALL_HOOKS = ("on_session_start", "on_user_prompt_submitted", "userPromptTransformed", "pre_tool_use",
             "postToolUse", "post_tool_use_failure", "onAgentStop", "session_end", "error_occurred")


class Answer:
    """`{"reply": v}`, `{"replies": [v, ...]}` (call i gets item i, the last repeats) or
    `{"fail": "message"}` (the handler raises)."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        self.spec = spec
        self.calls = 0

    def next(self) -> Any:
        if "fail" in self.spec:
            raise RuntimeError(self.spec["fail"])
        if "replies" in self.spec:
            replies = self.spec["replies"]
            v = replies[min(self.calls, len(replies) - 1)]
            self.calls += 1
            return v
        return self.spec.get("reply")


class Seen:
    """What the host saw during one turn."""

    def __init__(self) -> None:
        self.events: List[SessionEvent] = []
        self.filtered: List[str] = []
        self.requests: List[Dict[str, Any]] = []
        self.hooks: List[str] = []

    @property
    def types(self) -> List[str]:
        return [e.type for e in self.events]


def build(s: Dict[str, Any], provider: Dict[str, Any], seen: List[Seen]) -> Dict[str, Any]:
    assert set(s) <= SESSION_FIELDS, f"unknown session fields {set(s) - SESSION_FIELDS}"
    cfg: Dict[str, Any] = {"model": "gpt-4.1", "provider": provider,
                           "on_event": lambda ev: seen[0].events.append(ev)}
    for key in ("streaming", "systemMessage", "mode"):
        if key in s:
            cfg[key] = s[key]

    def record(kind: str, payload: Dict[str, Any]) -> None:
        seen[0].requests.append({"kind": kind, "payload": payload})

    tools = []
    for t in s.get("tools", []):
        definition = {k: v for k, v in t.items() if k not in ("result", "fail", "reply")}
        answer = Answer({"reply": t["result"]} if "result" in t else {"fail": t["fail"]} if "fail" in t
                        else {"reply": t.get("reply")})

        def make(answer: Answer) -> Any:
            async def handler(arguments: Any, invocation: Any) -> Any:
                record("tool", invocation.raw)
                return answer.next()
            return handler
        tools.append({**definition, "handler": make(answer)})
    if tools:
        cfg["tools"] = tools

    kinds: Dict[str, Answer] = {}
    if "permission" in s:
        p = s["permission"]
        kinds["permission"] = Answer(
            {"fail": "permission handler exploded"} if p == "fail"
            else {"reply": {"kind": "reject", "feedback": s.get("permissionFeedback")}} if p == "reject"
            else {"reply": p})
    if "userInput" in s:
        u = s["userInput"]
        kinds["userInput"] = Answer({"fail": u["fail"]} if "fail" in u else {"reply": u})
    hooks: Dict[str, Answer] = {}
    for kind, spec in s.get("handlers", {}).items():
        if kind == "hooks":
            hooks.update({name: Answer(h) for name, h in spec.items()})
        else:
            assert kind in HANDLER_KEYS, f"unknown handler kind {kind}"
            kinds[kind] = Answer(spec)

    for kind, answer in kinds.items():
        cfg[HANDLER_KEYS[kind]] = handler_for(kind, answer, record)

    def hook_fn(answer: Optional[Answer]) -> Any:
        async def hook(input: Dict[str, Any], invocation: Any) -> Any:
            record("hook", invocation.raw)
            seen[0].hooks.append(invocation.hook_type)
            return answer.next() if answer else None
        return hook
    if s.get("hooks") is True:
        cfg["hooks"] = {name: hook_fn(None) for name in ALL_HOOKS}
    elif hooks:
        cfg["hooks"] = {name: hook_fn(a) for name, a in hooks.items()}
    return cfg


def handler_for(kind: str, answer: Answer, record: Any) -> Any:
    """The user-facing handler of a kind, in its documented Python signature."""
    if kind == "permission":
        def permission(request: Any) -> Any:  # a sync handler: it runs in the executor
            record(kind, request.raw)
            return answer.next()
        return permission
    if kind in ("systemMessageTransform", "providerToken"):
        async def with_request(value: Any, request: Any) -> Any:
            record(kind, request.raw)
            return answer.next()
        return with_request
    if kind == "exitPlanMode":
        async def exit_plan(request: Dict[str, Any]) -> Any:
            record(kind, request)
            return answer.next()
        return exit_plan

    async def typed(request: Any) -> Any:  # userInput, autoModeSwitch
        record(kind, request.raw)
        return answer.next()
    return typed


def matches(pattern: Any, value: Any, sid: str, subset: bool, at: str) -> None:
    """The payload patterns of tests/scenarios/README.md."""
    if isinstance(pattern, str) and pattern.startswith("<") and pattern.endswith(">"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {"<string>": isinstance(value, str), "<number>": number, "<bool>": isinstance(value, bool),
              "<object>": isinstance(value, dict), "<array>": isinstance(value, list), "<any>": True,
              "<string|null>": value is None or isinstance(value, str), "<sessionId>": value == sid}[pattern]
        assert ok, f"{at}: expected {pattern}, got {value!r}"
    elif isinstance(pattern, dict):
        assert isinstance(value, dict), f"{at}: expected an object, got {value!r}"
        if not subset:
            assert sorted(value) == sorted(pattern), f"{at}: keys {sorted(value)}, expected {sorted(pattern)}"
        for k, p in pattern.items():
            assert k in value, f"{at}: no {k!r} in {value!r}"
            matches(p, value[k], sid, subset, f"{at}.{k}")
    elif isinstance(pattern, list):
        assert isinstance(value, list) and len(value) == len(pattern), f"{at}: expected {pattern}, got {value!r}"
        for i, (p, v) in enumerate(zip(pattern, value)):
            matches(p, v, sid, subset, f"{at}[{i}]")
    else:
        assert type(pattern) is type(value) and pattern == value, f"{at}: expected {pattern!r}, got {value!r}"


def subsequence(want: List[str], got: List[str]) -> bool:
    it = iter(got)
    return all(any(g == w for g in it) for w in want)


def test_pattern_matcher() -> None:
    p = {"sessionId": "<sessionId>", "n": "<number>", "o": {"a": [1, "<string>"]}, "x": "<string|null>"}
    matches(p, {"sessionId": "s", "n": 1, "o": {"a": [1, "b"]}, "x": None}, "s", False, "p")
    for bad in ({"sessionId": "t", "n": 1, "o": {"a": [1, "b"]}, "x": None},
                {"sessionId": "s", "n": True, "o": {"a": [1, "b"]}, "x": None},
                {"sessionId": "s", "n": 1, "o": {"a": [1, "b"]}, "x": None, "more": 1}):
        with pytest.raises(AssertionError):
            matches(p, bad, "s", False, "p")
    matches({"a": 1}, {"a": 1, "b": 2}, "s", True, "p")
    with pytest.raises(AssertionError):
        matches({"a": True}, {"a": 1}, "s", True, "p")


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(path: pathlib.Path, client: CopilotClient, fake_model: Any) -> None:
    sc = json.loads(path.read_text())
    assert sc["name"] == path.stem
    seen = [Seen()]
    session = await client.create_session(build(sc["session"], fake_model.provider, seen))
    sid = session.session_id
    async with session:
        for i, turn in enumerate(sc["turns"]):
            ctx = f"{sc['name']} turn {i}"
            assert set(turn) <= TURN_FIELDS, f"{ctx}: unknown turn fields {set(turn) - TURN_FIELDS}"
            x = turn["expect"]
            assert set(x) <= EXPECT_FIELDS, f"{ctx}: unknown expectations {set(x) - EXPECT_FIELDS}"
            seen[0] = now = Seen()
            unsubscribe = None
            if "subscribe" in turn:
                unsubscribe = session.on(turn["subscribe"], lambda ev: now.filtered.append(ev.type))
            try:
                answer_event = await session.send_and_wait({"prompt": turn["prompt"]}, timeout=90)
                idle_seen = "session.idle" in now.types  # what the subscriber had when the result came
            except CopilotError as e:
                assert x.get("error") == e.code, f"{ctx}: {e!r}"
                continue
            finally:
                if unsubscribe:
                    unsubscribe()
            assert "error" not in x, f"{ctx}: expected {x['error']}"
            types = now.types
            answer = (answer_event.data.content if answer_event else "") or ""
            if "answer" in x:
                assert answer == x["answer"], ctx
            for s in x.get("answerContains", []):
                assert s in answer, f"{ctx}: {answer!r} lacks {s!r}"
            assert subsequence(x.get("events", []), types), f"{ctx}: {x.get('events')} not in {types}"
            for t in x.get("noEvents", []):
                assert t not in types, f"{ctx}: unexpected {t}"
            if "toolComplete" in x:
                done = [e for e in now.events if e.type == "tool.execution_complete"]
                assert done, f"{ctx}: no tool.execution_complete"
                assert done[-1].data.success == x["toolComplete"]["success"], f"{ctx}: {done[-1].data}"
                if "contains" in x["toolComplete"]:
                    assert x["toolComplete"]["contains"] in json.dumps(done[-1].raw["data"]), ctx
            of_kind = lambda k: [r["payload"] for r in now.requests if r["kind"] == k]  # noqa: E731
            if "permissionKinds" in x:
                assert [p["kind"] for p in of_kind("permission")] == x["permissionKinds"], ctx
            if "userInputQuestions" in x:
                assert [p["question"] for p in of_kind("userInput")] == x["userInputQuestions"], ctx
            assert subsequence(x.get("hooks", []), now.hooks), f"{ctx}: hooks {now.hooks}"
            if "requests" in x:
                assert len(now.requests) == len(x["requests"]), f"{ctx}: host requests {now.requests}"
                for j, (want, got) in enumerate(zip(x["requests"], now.requests)):
                    matches(want, got, sid, False, f"{ctx} request {j}")
            for ty, want in x.get("eventData", {}).items():
                last = [e for e in now.events if e.type == ty]
                assert last, f"{ctx}: no {ty} event in {types}"
                matches(want, dict(last[-1].data), sid, True, f"{ctx} {ty}")
            if "filteredEvents" in x:
                assert now.filtered == x["filteredEvents"], f"{ctx}: filtered subscription saw {now.filtered}"
            if x.get("resultAfterEvents"):
                assert idle_seen, f"{ctx}: the result came before the turn's session.idle reached the subscriber"
            if x.get("deltasConcatenate"):
                mid = answer_event.data.message_id
                deltas = [e.data.delta_content for e in now.events
                          if e.type == "assistant.message_delta" and e.data.message_id == mid]
                assert len(deltas) >= 2, ctx
                assert "".join(deltas) == answer, ctx
    RAN.add(path.stem)


def test_every_scenario_file_was_run() -> None:
    # Runs after the parametrised tests (file order): each file must have run to the end.
    assert len(SCENARIOS) >= 20
    assert RAN == {p.stem for p in SCENARIOS}, f"not run (or failed): {sorted({p.stem for p in SCENARIOS} - RAN)}"


def test_the_answered_kinds_are_the_cores() -> None:
    # Every request kind of the core (the generated list) has its handler key here, except the
    # tool, hook, command and session-filesystem kinds, which are given per tool, hook type,
    # command and provider.
    kinds = json.loads((ROOT / "tests/request-kinds.json").read_text())
    assert set(kinds) - {"tool", "hook", "command", "sessionFs"} == set(HANDLER_KEYS)
    from copilot.client import _HANDLER_KEYS
    assert set(_HANDLER_KEYS.values()) == set(HANDLER_KEYS) and set(HANDLER_KEYS.values()) <= set(_HANDLER_KEYS)
