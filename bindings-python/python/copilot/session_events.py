"""The official SDKs' ``copilot.session_events`` names for the typed event data:
``from copilot.session_events import AssistantMessageData, SessionIdleData``.

Every data class of :mod:`copilot.protocol` is here under its own name, and also under the
official name, the event type's words + ``Data`` (``session.idle`` -> ``SessionIdleData``, which
is ``copilot.protocol.IdleData``; ``assistant.message`` -> ``AssistantMessageData``)."""
from typing import Any, Dict

from . import protocol as _protocol
from .protocol import *  # noqa: F401,F403
from .types import SessionEvent  # noqa: F401


def _official_name(event_type: str) -> str:
    return "".join(w[:1].upper() + w[1:] for part in event_type.split(".") for w in part.split("_")) + "Data"


def _aliases() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for event_type, cls in _protocol.EVENT_CLASSES.items():
        name = getattr(cls, "_DATA", None)
        data = getattr(_protocol, name, None) if isinstance(name, str) else None
        if isinstance(data, type):
            out.setdefault(_official_name(event_type), data)
    return out


globals().update({k: v for k, v in _aliases().items() if k not in globals()})
