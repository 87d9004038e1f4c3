"""The official Python SDK's README quickstart, written in its names, against the real CLI and
the fake model. Apart from where the client connects (``RuntimeConnection.for_uri`` to the
suite's CLI) and the BYOK ``provider`` the offline CLI needs, each test is the README's code:
``async with CopilotClient()``, ``create_session(on_permission_request=PermissionHandler.approve_all,
model=...)``, ``session.on`` with ``match event.data``, ``@define_tool`` with a pydantic model,
the low-level ``Tool``/``ToolInvocation``/``ToolResult``, a ``(request, invocation)`` permission
handler returning ``copilot.rpc`` decisions, and the ``hooks`` dict."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

from pydantic import BaseModel, Field

# The official import lines, unchanged.
from copilot import CopilotClient, PermissionRequest, RuntimeConnection, define_tool
from copilot.rpc import PermissionDecisionApproveOnce, PermissionDecisionReject
from copilot.session import PermissionHandler
from copilot.session_events import AssistantMessageData, SessionIdleData, ToolExecutionCompleteData
from copilot.tools import Tool, ToolInvocation, ToolResult

from conftest import TOKEN, FakeModel

MODEL = "gpt-4.1"


def connection(shared_cli: CopilotClient) -> RuntimeConnection:
    return RuntimeConnection.for_uri(f"127.0.0.1:{shared_cli.port}", connection_token=TOKEN)


class LookupIssueParams(BaseModel):
    id: str = Field(description="Issue identifier")


async def test_readme_quick_start(shared_cli: CopilotClient, fake_model: FakeModel) -> None:
    said: List[str] = []
    async with CopilotClient(connection=connection(shared_cli)) as client:
        async with await client.create_session(
            on_permission_request=PermissionHandler.approve_all,
            model=MODEL,
            provider=fake_model.provider,
        ) as session:
            done = asyncio.Event()

            def on_event(event: Any) -> None:
                match event.data:
                    case AssistantMessageData() as data:
                        said.append(data.content)
                    case SessionIdleData():
                        done.set()

            session.on(on_event)
            message_id = await session.send("REPLY 2+2 is 4")
            await asyncio.wait_for(done.wait(), 60)
    assert isinstance(message_id, str) and message_id
    assert said == ["2+2 is 4"]


async def test_readme_manual_resource_management(shared_cli: CopilotClient, fake_model: FakeModel) -> None:
    client = CopilotClient(connection=connection(shared_cli))
    await client.start()
    session = await client.create_session(
        on_permission_request=PermissionHandler.approve_all,
        model=MODEL,
        provider=fake_model.provider,
    )
    done = asyncio.Event()
    said: List[str] = []

    def on_event(event: Any) -> None:
        match event.data:
            case AssistantMessageData() as data:
                said.append(data.content)
            case SessionIdleData():
                done.set()

    session.on(on_event)
    await session.send("What is 2+2?")
    await asyncio.wait_for(done.wait(), 60)
    assert said == ["Hello from the fake model."]
    events = await session.get_events()
    assert [e.data.content for e in events if isinstance(e.data, AssistantMessageData)] == said
    await session.disconnect()
    await client.stop()


async def test_readme_tools(shared_cli: CopilotClient, fake_model: FakeModel) -> None:
    seen: Dict[str, Any] = {}

    @define_tool(description="Fetch issue details from our tracker")
    async def lookup_issue(params: LookupIssueParams) -> str:
        seen["decorated"] = params
        return f"issue {params.id}: the build is red"

    async def lookup_issue_low_level(invocation: ToolInvocation) -> ToolResult:
        issue_id = invocation.arguments["id"]
        seen["low_level"] = invocation
        return ToolResult(
            text_result_for_llm=f"low-level issue {issue_id}: flaky test",
            result_type="success",
            session_log=f"Fetched issue {issue_id}",
        )

    async with CopilotClient(connection=connection(shared_cli)) as client:
        async with await client.create_session(
            on_permission_request=PermissionHandler.approve_all,
            model=MODEL,
            provider=fake_model.provider,
            tools=[
                lookup_issue,
                Tool(
                    name="lookup_issue_raw",
                    description="Fetch issue details from our tracker",
                    parameters={
                        "type": "object",
                        "properties": {"id": {"type": "string", "description": "Issue identifier"}},
                        "required": ["id"],
                    },
                    handler=lookup_issue_low_level,
                ),
            ],
        ) as session:
            completions: List[Any] = []
            session.on(lambda e: completions.append(e.data)
                       if isinstance(e.data, ToolExecutionCompleteData) else None)
            answer = await session.send_and_wait('CALL lookup_issue {"id":"GH-12"}')
            assert answer is not None and answer.data.content == "Tool returned: issue GH-12: the build is red"
            assert isinstance(seen["decorated"], LookupIssueParams) and seen["decorated"].id == "GH-12"

            answer = await session.send_and_wait('CALL lookup_issue_raw {"id":"GH-7"}')
            assert answer is not None and answer.data.content == "Tool returned: low-level issue GH-7: flaky test"
            inv = seen["low_level"]
            assert isinstance(inv, ToolInvocation)
            assert (inv.session_id, inv.tool_name, inv.arguments) == (session.session_id, "lookup_issue_raw",
                                                                      {"id": "GH-7"})
            assert inv.tool_call_id
    assert [c.success for c in completions] == [True, True]


async def test_readme_custom_permission_handler(shared_cli: CopilotClient, fake_model: FakeModel) -> None:
    asked: List[Any] = []

    def on_permission_request(request: PermissionRequest, invocation: dict) -> Any:
        asked.append((request.kind, invocation["session_id"]))
        if "forbidden" in json.dumps(request.request):
            return PermissionDecisionReject(feedback="Shell denied: forbidden")
        return PermissionDecisionApproveOnce()

    async with CopilotClient(connection=connection(shared_cli)) as client:
        async with await client.create_session(
            on_permission_request=on_permission_request,
            model=MODEL,
            provider=fake_model.provider,
        ) as session:
            completions: List[Any] = []
            session.on(lambda e: completions.append(e.data)
                       if isinstance(e.data, ToolExecutionCompleteData) else None)
            await session.send_and_wait('CALL bash {"command":"echo allowed-42","description":"echo","mode":"sync"}')
            await session.send_and_wait('CALL bash {"command":"echo forbidden","description":"echo","mode":"sync"}')
            sid = session.session_id
    assert asked == [("shell", sid), ("shell", sid)]
    assert [c.success for c in completions] == [True, False]
    assert "allowed-42" in json.dumps(completions[0].raw)
    assert "forbidden" not in json.dumps(completions[1].raw.get("result"))


async def test_readme_session_hooks(shared_cli: CopilotClient, fake_model: FakeModel) -> None:
    calls: List[Any] = []

    async def on_pre_tool_use(input: Any, invocation: Any) -> Dict[str, Any]:
        calls.append(("pre", input["toolName"], input.get("toolArgs")))
        # (no additionalContext: the CLI would add it after the tool result, and the fake model
        # answers a last message that is not the tool result with its default text)
        return {"permissionDecision": "allow"}

    async def on_post_tool_use(input: Any, invocation: Any) -> None:
        calls.append(("post", input["toolName"], invocation.session_id))

    async def on_user_prompt_submitted(input: Any, invocation: Any) -> Dict[str, Any]:
        calls.append(("prompt", input["prompt"]))
        return {"modifiedPrompt": input["prompt"]}

    @define_tool(description="Fetch issue details from our tracker")
    async def lookup_issue(params: LookupIssueParams) -> str:
        return f"issue {params.id}"

    async with CopilotClient(connection=connection(shared_cli)) as client:
        async with await client.create_session(
            on_permission_request=PermissionHandler.approve_all,
            model=MODEL,
            provider=fake_model.provider,
            tools=[lookup_issue],
            hooks={
                "on_pre_tool_use": on_pre_tool_use,
                "on_post_tool_use": on_post_tool_use,
                "on_user_prompt_submitted": on_user_prompt_submitted,
            },
        ) as session:
            answer = await session.send_and_wait('CALL lookup_issue {"id":"H-1"}')
            sid = session.session_id
    assert answer is not None and answer.data.content == "Tool returned: issue H-1"
    assert calls[0] == ("prompt", 'CALL lookup_issue {"id":"H-1"}')
    pre = [c for c in calls if c[0] == "pre"]
    assert len(pre) == 1 and pre[0][1] == "lookup_issue"
    args = pre[0][2]
    assert (json.loads(args) if isinstance(args, str) else args) == {"id": "H-1"}
    assert [c for c in calls if c[0] == "post"] == [("post", "lookup_issue", sid)]
