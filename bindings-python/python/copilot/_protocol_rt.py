"""The runtime of the generated ``copilot.protocol`` module: the base classes, the table-driven
decoder and encoder, the RPC namespace plumbing, and the strict-types test mode.

Type descriptors (the generated ``_F`` tables): ``"s"`` str, ``"i"`` int, ``"n"`` number,
``"b"`` bool, ``"d"`` date-time, ``"a"`` any JSON value, ``"z"`` null, ``"e"`` a session event,
``("c", value)`` a fixed string, ``("l", d)`` list, ``("m", d)`` map, ``("o", d)`` nullable, and a
capitalised name for a generated class, enum or union.

Decoding never raises: what the types cannot read stays as it came. With the environment variable
``COPILOT_STRICT_TYPES=1`` (the test suites set it) every decoded event and result is also checked:
a value of the wrong JSON type or a missing required field is recorded as a failure; unknown event
types, unknown fields and unknown enum values are counted (see :func:`strict_summary`).
"""
from __future__ import annotations

import datetime as _dt
import enum
import os
import sys
import typing as _t
from typing import Any, Dict, List, Optional, Tuple

if _t.TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_kw: Any) -> Any:
        return lambda c: c

STRICT = os.environ.get("COPILOT_STRICT_TYPES") == "1"

# --------------------------------------------------------------------------- strict mode


class StrictStats:
    """What the strict mode saw (one per process)."""

    def __init__(self) -> None:
        self.events = 0
        self.results = 0
        self.hook_inputs = 0
        self.unknown_event_types: Dict[str, int] = {}
        self.unknown_fields: Dict[str, int] = {}
        self.unknown_enum_values: Dict[str, int] = {}
        self.failures: List[str] = []

    def summary(self) -> str:
        names = ", ".join(sorted(self.unknown_event_types))
        return (f"strict types: {self.events} events, {self.results} results, {self.hook_inputs} hook inputs checked; unknown: "
                f"{len(self.unknown_event_types)} event types ({names}), {sum(self.unknown_fields.values())} fields, "
                f"{sum(self.unknown_enum_values.values())} enum values; failures: {len(self.failures)}")


STATS = StrictStats()


def strict_summary() -> str:
    """The one-line report of the strict mode."""
    return STATS.summary()


def _fail(where: str, what: str) -> None:
    if STRICT:
        msg = f"{where}: {what}"
        if len(STATS.failures) < 1000:
            STATS.failures.append(msg)
        else:
            STATS.failures.append("…")


def _count(table: Dict[str, int], key: str) -> None:
    table[key] = table.get(key, 0) + 1


# --------------------------------------------------------------------------- base classes


class _Enum(str, enum.Enum):
    """A string enum whose members read, print and serialise as their wire value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    # Equal to its wire string, so it must hash like it too (sets, dict keys).
    __hash__ = str.__hash__


_NAMED: Dict[str, Any] = {}
_UNIONS: Dict[str, Tuple[str, Dict[str, str]]] = {}
_EVENTS: Dict[str, Any] = {}
_HOOKS: Dict[str, Any] = {}


def register(ns: Dict[str, Any]) -> None:
    """Called by the generated module with its globals."""
    for k, v in ns.items():
        if isinstance(v, type) and (issubclass(v, _Struct) or issubclass(v, _Enum)):
            _NAMED[k] = v
    _EVENTS.update(ns["EVENT_CLASSES"])
    _HOOKS.update(ns.get("HOOK_TYPES", {}))


def _protocol() -> None:
    if not _EVENTS:
        from . import protocol  # noqa: F401  (registers itself)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass_transform(kw_only_default=True)
class _Struct:
    """Base of the generated object types: a keyword-only constructor, ``to_dict()`` (the wire
    JSON), ``from_dict()`` and ``raw`` (the object it was decoded from; ``{}`` when built here).
    For the events' sake it also reads, at run time only, like the dict it came from
    (``data.get("content")``, ``data["content"]``, camelCase attributes, missing ones ``None``)."""

    _F: _t.ClassVar[Tuple[Tuple[str, str, Any, bool], ...]] = ()
    _J: _t.ClassVar[_t.FrozenSet[str]]

    def __init__(self, **kwargs: Any) -> None:
        cls = type(self)
        for py, js, desc, req in cls._F:
            if py in kwargs:
                v = kwargs.pop(py)
            elif type(desc) is tuple and desc[0] == "c":
                v = desc[1]
            elif req and not (type(desc) is tuple and desc[0] == "o") and desc != "a":
                raise TypeError(f"{cls.__name__}() missing the required keyword argument {py!r}")
            else:
                v = None
            self.__dict__[py] = v
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected keyword arguments {sorted(kwargs)}")
        self.__dict__["_raw"] = {}

    @property
    def raw(self) -> Dict[str, Any]:
        return self.__dict__.get("_raw") or {}

    @classmethod
    def _json_names(cls) -> _t.FrozenSet[str]:
        j = cls.__dict__.get("_J")
        if j is None:
            j = frozenset(f[1] for f in cls._F)
            cls._J = j
        return j

    @classmethod
    def from_dict(cls: "type[_S]", d: Dict[str, Any]) -> "_S":
        """Decodes a JSON object (never raises; see the module docstring)."""
        return _t.cast("_S", _struct(cls, d))

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object (fields left ``None`` and not required are omitted; unknown fields
        of a decoded object are kept)."""
        cls = type(self)
        raw = self.raw
        out: Dict[str, Any] = {k: v for k, v in raw.items() if k not in cls._json_names()} if raw else {}
        for py, js, _desc, req in cls._F:
            v = self.__dict__.get(py)
            if v is None and not req:
                continue
            out[js] = encode(v)
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(self.__dict__.get(f[0]) == other.__dict__.get(f[0]) for f in self._F)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"{f[0]}={self.__dict__.get(f[0])!r}" for f in self._F if self.__dict__.get(f[0]) is not None]
        return f"{type(self).__name__}({', '.join(parts)})"

    if not _t.TYPE_CHECKING:
        # Run-time compatibility with the dict-like event data of earlier versions (not typed,
        # so type checkers still catch misspelt field names).
        def __getattr__(self, name):
            if name.startswith("__") or name == "_raw":
                raise AttributeError(name)
            for py, js, _d, _r in type(self)._F:
                if js == name:
                    return self.__dict__.get(py)
            raw = self.raw
            from .types import _wrap
            if name in raw:
                return _wrap(raw[name])
            return _wrap(raw.get(_camel(name)))

        def __getitem__(self, key):
            return self.raw[key]

        def __contains__(self, key):
            return key in self.raw

        def get(self, key, default=None):
            return self.raw.get(key, default)

        def keys(self):
            return self.raw.keys()

        def items(self):
            return self.raw.items()

        def values(self):
            return self.raw.values()


_S = _t.TypeVar("_S", bound=_Struct)

# --------------------------------------------------------------------------- decoding


def _parse_time(s: str) -> Optional[_dt.datetime]:
    t = s.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    if sys.version_info < (3, 11) and "." in t:
        # fromisoformat before 3.11 wants 3 or 6 fraction digits.
        head, _, rest = t.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        t = f"{head}.{(digits + '000000')[:6]}{tz}"
    try:
        return _dt.datetime.fromisoformat(t)
    except ValueError:
        return None


def _struct(cls: Any, d: Any, o: Any = None) -> Any:
    if not isinstance(d, dict):
        _fail(cls.__name__, f"expected an object, got {type(d).__name__}")
        return d
    if o is None:
        o = object.__new__(cls)
    od = o.__dict__
    for py, js, desc, req in cls._F:
        if js in d:
            od[py] = _dec(desc, d[js], cls.__name__, js)
        else:
            if req:
                _fail(cls.__name__, f"missing required field {js!r}")
            od[py] = desc[1] if type(desc) is tuple and desc[0] == "c" else None
    od["_raw"] = d
    if STRICT:
        known = cls._json_names()
        for k in d:
            if k not in known:
                _count(STATS.unknown_fields, f"{cls.__name__}.{k}")
    return o


def _dec(desc: Any, v: Any, owner: str, field: str) -> Any:
    if type(desc) is str:
        if len(desc) == 1:
            if desc == "a":
                return v
            if desc == "s":
                if type(v) is not str:
                    _fail(f"{owner}.{field}", f"expected a string, got {type(v).__name__}")
                return v
            if desc == "i":
                if not isinstance(v, int) or isinstance(v, bool):
                    if isinstance(v, float) and v.is_integer():
                        return int(v)
                    _fail(f"{owner}.{field}", f"expected an integer, got {type(v).__name__}")
                return v
            if desc == "n":
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    _fail(f"{owner}.{field}", f"expected a number, got {type(v).__name__}")
                return v
            if desc == "b":
                if not isinstance(v, bool):
                    _fail(f"{owner}.{field}", f"expected a boolean, got {type(v).__name__}")
                return v
            if desc == "d":
                if type(v) is str:
                    t = _parse_time(v)
                    if t is not None:
                        return t
                _fail(f"{owner}.{field}", f"expected a date-time string, got {v!r:.60}")
                return v
            if desc == "z":
                if v is not None:
                    _fail(f"{owner}.{field}", f"expected null, got {type(v).__name__}")
                return v
            if desc == "e":
                return event_from_wire(v, count=False) if isinstance(v, dict) else v
            raise AssertionError(desc)
        u = _UNIONS.get(desc)
        if u is not None:
            if not isinstance(v, dict):
                _fail(f"{owner}.{field}", f"expected an object ({desc}), got {type(v).__name__}")
                return v
            tag = v.get(u[0])
            name = u[1].get(tag) if isinstance(tag, str) else None
            if name is None:
                if isinstance(tag, str):
                    if STRICT:
                        _count(STATS.unknown_enum_values, f"{desc}.{u[0]}={tag}")
                else:
                    _fail(f"{owner}.{field}", f"{desc}: missing or non-string tag {u[0]!r}")
                return v
            return _struct(_NAMED[name], v)
        cls = _NAMED[desc]
        if issubclass(cls, _Enum):
            if type(v) is not str:
                _fail(f"{owner}.{field}", f"expected a string ({desc}), got {type(v).__name__}")
                return v
            try:
                return cls(v)
            except ValueError:
                if STRICT:
                    _count(STATS.unknown_enum_values, f"{desc}={v}")
                return v
        return _struct(cls, v)
    kind = desc[0]
    if kind == "o":
        return None if v is None else _dec(desc[1], v, owner, field)
    if kind == "l":
        if not isinstance(v, list):
            _fail(f"{owner}.{field}", f"expected an array, got {type(v).__name__}")
            return v
        inner = desc[1]
        if inner == "a":
            return v
        return [_dec(inner, x, owner, field) for x in v]
    if kind == "m":
        if not isinstance(v, dict):
            _fail(f"{owner}.{field}", f"expected an object, got {type(v).__name__}")
            return v
        inner = desc[1]
        if inner == "a":
            return v
        return {k: _dec(inner, x, owner, field) for k, x in v.items()}
    if kind == "c":
        if v != desc[1]:
            _fail(f"{owner}.{field}", f"expected {desc[1]!r}, got {v!r:.60}")
        return v
    raise AssertionError(desc)


def decode(desc: Any, v: Any, where: str = "value") -> Any:
    """Decodes a JSON value by a descriptor of the generated module."""
    _protocol()
    return _dec(desc, v, where, "")


def decode_result(desc: Any, v: Any, method: str) -> Any:
    """Decodes the result of ``method`` (counted by the strict mode)."""
    _protocol()
    if STRICT:
        STATS.results += 1
    return _dec(desc, v, f"result of {method}", "")


def event_from_wire(obj: Dict[str, Any], count: bool = True) -> Any:
    """A typed event (``AssistantMessageEvent``, ...) for a type the schema knows, else a plain
    :class:`copilot.SessionEvent` with dict-like ``data``."""
    _protocol()
    from .types import EventData, SessionEvent, UnknownEventType
    from .protocol import SessionEventType
    t = obj.get("type", "")
    cls = _EVENTS.get(t)
    if STRICT and count:
        STATS.events += 1
        for k in ("id", "timestamp"):
            if type(obj.get(k)) is not str:
                _fail(f"event {t}", f"envelope field {k!r} missing or not a string")
    raw_data = obj.get("data")
    if cls is None:
        if STRICT and count:
            _count(STATS.unknown_event_types, str(t))
        data: Any = EventData(raw_data or {})
        etype: Any = UnknownEventType(t) if isinstance(t, str) else t
        cls = SessionEvent
    else:
        desc = cls._DATA
        if desc == "a" or (type(desc) is tuple and desc[0] == "m"):
            data = EventData(raw_data or {}) if isinstance(raw_data, dict) or raw_data is None else raw_data
        else:
            data = _dec(desc, raw_data if raw_data is not None else {}, cls.__name__, "data")
        etype = SessionEventType(t)
    return cls(type=etype, data=data, id=obj.get("id", ""), timestamp=obj.get("timestamp", ""),
               parent_id=obj.get("parentId"), ephemeral=bool(obj.get("ephemeral", False)),
               agent_id=obj.get("agentId"), raw=obj)


# --------------------------------------------------------------------------- hook inputs

_DICT_VARIANTS: Dict[Any, Any] = {}


def _dict_variant(cls: Any) -> Any:
    """``cls`` that is also a ``dict`` (the wire object): what a hook function receives, so a
    hook written for the untyped dict (``json.dumps(input)``, ``isinstance(input, dict)``,
    ``input["toolName"]``, ``input == {...}``) keeps working. Item access, iteration, length and
    equality are the dict's; attributes are the typed fields."""
    v = _DICT_VARIANTS.get(cls)
    if v is None:
        ns = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
        for name in ("__getitem__", "__contains__", "__iter__", "__len__", "__eq__", "__ne__",
                     "get", "keys", "items", "values"):
            ns[name] = getattr(dict, name)
        ns["__hash__"] = None
        v = type(cls.__name__, (cls, dict), ns)
        _DICT_VARIANTS[cls] = v
    return v


def hook_input(hook_type: str, v: Any) -> Any:
    """The typed input of a hook (``PreToolUseHookInput``, ...; an instance that is also the
    wire dict) for a hook type of ``HOOK_TYPES``, else the wire value as it came. Checked by the
    strict mode like an event."""
    _protocol()
    entry = _HOOKS.get(hook_type)
    if entry is None:
        return v
    if STRICT:
        STATS.hook_inputs += 1
    if not isinstance(v, dict):
        _fail(f"{entry[0].__name__} (hook {hook_type})", f"expected an object, got {type(v).__name__}")
        return v
    cls = _dict_variant(entry[0])
    o = dict.__new__(cls)
    dict.update(o, v)
    return _struct(cls, v, o)


# --------------------------------------------------------------------------- encoding


def encode(v: Any) -> Any:
    """A value of the generated types as JSON (structs, enums, date-times, lists and dicts)."""
    if isinstance(v, _Struct):
        return v.to_dict()
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, _dt.datetime):
        s = v.isoformat()
        return s[:-6] + "Z" if s.endswith("+00:00") else s
    if isinstance(v, list) or isinstance(v, tuple):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        return {k: encode(x) for k, x in v.items()}
    return v


def params(cls: Any, params: Any, kwargs: Dict[str, Any]) -> Any:
    """The wire params of a typed call: a generated params object, a dict (sent as it is), or
    the keyword arguments."""
    if params is not None:
        if kwargs:
            raise TypeError("give either a params object or keyword arguments, not both")
        return params.to_dict() if isinstance(params, _Struct) else encode(params)
    if cls is None:
        return None
    for k in ("timeout_", "params_"):
        if k in kwargs and k not in {f[0] for f in cls._F}:
            kwargs[k[:-1]] = kwargs.pop(k)
    return cls(**kwargs).to_dict()


# --------------------------------------------------------------------------- rpc namespaces


class _Default:
    """The ``timeout`` of a call when none is given: the client's ``request_timeout``."""

    def __repr__(self) -> str:
        return "REQUEST_TIMEOUT"


REQUEST_TIMEOUT: Any = _Default()
Timeout = _t.Union[float, _dt.timedelta, None]
# (method, params, timeout, result descriptor or None for the raw result) -> result
Caller = _t.Callable[[str, Any, Any, Any], _t.Awaitable[Any]]


class Api:
    """A namespace of typed calls."""
    __slots__ = ("_c",)

    def __init__(self, call: Caller) -> None:
        self._c = call


class RpcRoot(Api):
    """The root namespace; calling it is the generic call (any method by name, raw result)."""
    __slots__ = ()

    async def __call__(self, method: str, params: Optional[Dict[str, Any]] = None, *,
                       timeout: Timeout = REQUEST_TIMEOUT) -> Any:
        return await self._c(method, params, timeout, None)


def alias(ns: Dict[str, Any], table: Dict[str, str], name: str) -> Any:
    """The run-time value of a generated type alias, built on first access."""
    expr = table.get(name)
    if expr is None:
        raise AttributeError(f"module 'copilot.protocol' has no attribute {name!r}")
    value = eval(expr, ns)  # the generated module's own expression
    ns[name] = value
    return value
