"""Helpers the native module calls: resolving asyncio futures and building exceptions."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from . import errors


def resolve(fut: "asyncio.Future[Any]", ok: bool, value: Any) -> None:
    """Completes `fut` on its loop unless it is already done (cancelled)."""
    if fut.done():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def make_error(code: str, number: int, message: str, rpc_json: Optional[str],
               stderr_tail: Optional[str], debug: str) -> errors.CopilotError:
    rpc = json.loads(rpc_json) if rpc_json else None
    return errors.from_native(code, number, message, rpc, stderr_tail, debug)
