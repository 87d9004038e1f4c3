"""Type-checked by `mypy --strict` in test.sh (not run by pytest): the typed events and RPC of
copilot.protocol. The `type: ignore[...]` lines must stay errors: with --strict (which warns about
unused ignores) mypy fails if one of them stops being an error."""
from __future__ import annotations

from typing import List, Optional

from copilot import CopilotClient, SessionEvent
from copilot import protocol as p
from copilot.protocol import SessionEventType


def on_event(ev: SessionEvent) -> Optional[str]:
    if isinstance(ev, p.AssistantMessageEvent):
        content: str = ev.data.content
        return content
    if isinstance(ev, p.ToolExecutionCompleteEvent):
        ok: bool = ev.data.success
        return str(ok)
    if ev.type == SessionEventType.SESSION_IDLE:
        return None
    name: str = ev.type.value  # a SessionEventType member or, for an unknown type, UnknownEventType
    if name == "x":
        return name
    return None


async def main(client: CopilotClient) -> List[str]:
    session = await client.create_session(model="gpt-4.1")
    session.on(on_event)
    answer = await session.send_and_wait("hello")
    out: List[str] = []
    if answer is not None:
        out.append(answer.data.content)
        wrong: int = answer.data.content  # type: ignore[assignment]
        answer.data.contnet  # type: ignore[attr-defined]
    switched: p.ModelSwitchToResult = await session.rpc.model.switch_to(model_id="gpt-4.1")
    out.append(switched.model_id or "")
    await session.rpc.model.switch_to(p.SessionModelSwitchToParams(model_id="gpt-4.1"))
    await session.rpc.model.switch_to(model="gpt-4.1")  # type: ignore[call-overload]
    mode: p.SessionMode = await session.rpc.mode.get()
    out.append(mode.value)
    plan = await session.rpc.plan.read()
    if plan.content is not None:
        out.append(plan.content)
    tools = await client.rpc.tools.list()
    out.extend(t.name for t in tools.tools)
    models = await client.list_models()
    out.extend(m.id for m in models)
    raw = await session.call("session.future.method", {"x": 1})
    out.append(str(raw))
    await session.rpc("session.plan.read")
    return out
