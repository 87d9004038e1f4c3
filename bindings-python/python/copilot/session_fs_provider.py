"""The session filesystem provider (the official ``SessionFsProvider``): with the client option
``session_fs={"initial_cwd": ..., "session_state_path": ..., "conventions": "posix"}``, every
session's state (``events.jsonl``, ``workspace.yaml``, checkpoints, ...) is read and written
through the provider its ``create_session_fs_provider(session)`` returns.

A provider implements the async methods below. ``FileNotFoundError`` (or an ``OSError`` with
``errno.ENOENT``) is reported to the CLI as ``ENOENT``; anything else a method raises as an
``UNKNOWN`` error."""
from __future__ import annotations

import abc
import errno
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Union

__all__ = ["SessionFsProvider", "SessionFsFileInfo", "SessionFsDirEntry", "dispatch"]


@dataclass
class SessionFsFileInfo:
    """What :meth:`SessionFsProvider.stat` returns (times as datetimes, ISO strings or Unix ms)."""
    is_file: bool
    is_directory: bool
    size: int
    mtime: Union[datetime, str, int, float]
    birthtime: Union[datetime, str, int, float]


@dataclass
class SessionFsDirEntry:
    """An entry of :meth:`SessionFsProvider.readdir_with_types` (a ``{"name", "type"}`` dict
    works too)."""
    name: str
    type: str  # "file" | "directory"


class SessionFsProvider(abc.ABC):
    """A session's filesystem, implemented by the host (paths in the provider's conventions)."""

    @abc.abstractmethod
    async def read_file(self, path: str) -> str: ...

    @abc.abstractmethod
    async def write_file(self, path: str, content: str, mode: Optional[int] = None) -> None: ...

    @abc.abstractmethod
    async def append_file(self, path: str, content: str, mode: Optional[int] = None) -> None: ...

    @abc.abstractmethod
    async def exists(self, path: str) -> bool: ...

    @abc.abstractmethod
    async def stat(self, path: str) -> SessionFsFileInfo: ...

    @abc.abstractmethod
    async def mkdir(self, path: str, recursive: bool, mode: Optional[int] = None) -> None: ...

    @abc.abstractmethod
    async def readdir(self, path: str) -> List[str]: ...

    @abc.abstractmethod
    async def readdir_with_types(self, path: str) -> List[SessionFsDirEntry]: ...

    @abc.abstractmethod
    async def rm(self, path: str, recursive: bool, force: bool) -> None: ...

    @abc.abstractmethod
    async def rename(self, src: str, dest: str) -> None: ...


def _time(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return v


def _stat(info: Any) -> Any:
    if isinstance(info, SessionFsFileInfo):
        return {"isFile": info.is_file, "isDirectory": info.is_directory, "size": info.size,
                "mtime": _time(info.mtime), "birthtime": _time(info.birthtime)}
    if isinstance(info, dict):
        return {k: _time(v) for k, v in info.items()}
    return info


def _entry(e: Any) -> Any:
    if isinstance(e, SessionFsDirEntry):
        return {"name": e.name, "type": e.type}
    return e


async def _maybe(v: Any) -> Any:
    import inspect
    return await v if inspect.isawaitable(v) else v


async def dispatch(provider: Any, operation: str, p: Dict[str, Any]) -> Any:
    """Runs one ``sessionFs`` request on ``provider`` and gives the core's plain answer
    (``{"error": {"code": "ENOENT", ...}}`` for a missing path)."""
    try:
        if operation == "readFile":
            return await _maybe(provider.read_file(p["path"]))
        if operation == "writeFile":
            await _maybe(provider.write_file(p["path"], p.get("content", ""), p.get("mode")))
            return None
        if operation == "appendFile":
            await _maybe(provider.append_file(p["path"], p.get("content", ""), p.get("mode")))
            return None
        if operation == "exists":
            return bool(await _maybe(provider.exists(p["path"])))
        if operation == "stat":
            return _stat(await _maybe(provider.stat(p["path"])))
        if operation == "mkdir":
            await _maybe(provider.mkdir(p["path"], bool(p.get("recursive", False)), p.get("mode")))
            return None
        if operation == "readdir":
            return list(await _maybe(provider.readdir(p["path"])))
        if operation == "readdirWithTypes":
            return [_entry(e) for e in await _maybe(provider.readdir_with_types(p["path"]))]
        if operation == "rm":
            await _maybe(provider.rm(p["path"], bool(p.get("recursive", False)), bool(p.get("force", False))))
            return None
        if operation == "rename":
            await _maybe(provider.rename(p["src"], p["dest"]))
            return None
    except FileNotFoundError as e:
        return {"error": {"code": "ENOENT", "message": str(e) or f"ENOENT: {p.get('path')}"}}
    except OSError as e:
        if e.errno == errno.ENOENT:
            return {"error": {"code": "ENOENT", "message": str(e)}}
        raise
    raise LookupError(f"sessionFs operation {operation!r} is not supported by this provider")
