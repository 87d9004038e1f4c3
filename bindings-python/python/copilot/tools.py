"""Client-side tools: the :func:`tool` decorator builds the JSON schema of a function's
arguments from its type hints (or from a pydantic model, when pydantic is installed)."""
from __future__ import annotations

import dataclasses
import enum
import inspect
import sys
import typing
from typing import Any, Callable, Dict, List, Optional, Union, get_args, get_origin

from .errors import InvalidConfigError
from .types import ToolInvocation

_NoneType = type(None)


@dataclasses.dataclass
class ToolBinaryResult:
    """Binary content a tool returns (the official ``ToolBinaryResult``)."""
    data: str = ""
    mime_type: str = ""
    type: str = "image"  # "image" | "resource"
    description: str = ""


@dataclasses.dataclass
class ToolResult:
    """A tool's full result (the official ``ToolResult``): return it from a handler instead of a
    string to set the result type, an error, a session log or binary results."""
    text_result_for_llm: str = ""
    result_type: str = "success"  # "success" | "failure" | "rejected" | "denied" | "timeout"
    error: Optional[str] = None
    binary_results_for_llm: Optional[List[ToolBinaryResult]] = None
    session_log: Optional[str] = None
    tool_telemetry: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        """The wire form (``{textResultForLlm, resultType, ...}``; unset fields left out)."""
        out: Dict[str, Any] = {"textResultForLlm": self.text_result_for_llm, "resultType": self.result_type}
        if self.error is not None:
            out["error"] = self.error
        if self.binary_results_for_llm is not None:
            out["binaryResultsForLlm"] = [{"data": b.data, "mimeType": b.mime_type, "type": b.type,
                                           "description": b.description} for b in self.binary_results_for_llm]
        if self.session_log is not None:
            out["sessionLog"] = self.session_log
        if self.tool_telemetry is not None:
            out["toolTelemetry"] = self.tool_telemetry
        return out


def _takes_invocation_only(fn: Callable[..., Any]) -> bool:
    """A handler of one positional parameter annotated ``ToolInvocation`` (the official
    low-level ``Tool(handler=...)`` form)."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    if len(params) != 1:
        return False
    ann = params[0].annotation
    if ann is ToolInvocation or ann == "ToolInvocation":
        return True
    try:
        return typing.get_type_hints(fn).get(params[0].name) is ToolInvocation
    except Exception:
        return False


def _pydantic_model(tp: Any) -> bool:
    try:
        import pydantic  # noqa: F401  (optional)
    except ImportError:
        return False
    return isinstance(tp, type) and hasattr(tp, "model_json_schema") and hasattr(tp, "model_validate")


def schema_for(tp: Any) -> Dict[str, Any]:
    """JSON schema for a type hint."""
    if tp is inspect.Parameter.empty or tp is Any:
        return {}
    if _pydantic_model(tp):
        return tp.model_json_schema()
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Union:
        non_none = [a for a in args if a is not _NoneType]
        if len(non_none) == 1:
            return schema_for(non_none[0])
        return {"anyOf": [schema_for(a) for a in non_none]}
    if origin is typing.Literal:
        values = list(args)
        s: Dict[str, Any] = {"enum": values}
        kinds = {type(v) for v in values}
        if len(kinds) == 1:
            s.update(schema_for(kinds.pop()))
        return s
    if origin in (list, List, tuple, set, frozenset):
        item = args[0] if args else Any
        return {"type": "array", "items": schema_for(item)}
    if origin in (dict, Dict):
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": schema_for(value)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp in (list, tuple, set):
        return {"type": "array"}
    if tp is dict:
        return {"type": "object"}
    if dataclasses.is_dataclass(tp):
        return _object_schema(typing.get_type_hints(tp), {f.name for f in dataclasses.fields(tp)
                                                         if f.default is dataclasses.MISSING
                                                         and f.default_factory is dataclasses.MISSING})  # type: ignore[misc]
    if isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__"):  # a TypedDict
        return _object_schema(typing.get_type_hints(tp), set(getattr(tp, "__required_keys__", ())))
    raise InvalidConfigError(f"cannot build a JSON schema for the type {tp!r}; annotate with str, int, float, "
                             "bool, list[...], dict[...], Literal, Enum, Optional, a dataclass or a pydantic model")


def _optional_inner(tp: Any) -> Any:
    if get_origin(tp) is Union:
        non_none = [a for a in get_args(tp) if a is not _NoneType]
        if len(non_none) == 1:
            return non_none[0]
    return tp


def _constructible(tp: Any) -> bool:
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _pydantic_model(tp))


def _instance(tp: Any, value: Dict[str, Any]) -> Any:
    """A dataclass or pydantic model from the JSON object the model sent (nested dataclass
    fields included)."""
    if _pydantic_model(tp):
        return tp.model_validate(value)
    hints = typing.get_type_hints(tp)
    kwargs = {}
    for f in dataclasses.fields(tp):
        if f.name in value:
            v = value[f.name]
            inner = _optional_inner(hints.get(f.name))
            kwargs[f.name] = _instance(inner, v) if isinstance(v, dict) and _constructible(inner) else v
    return tp(**kwargs)


def _object_schema(hints: Dict[str, Any], required: set) -> Dict[str, Any]:
    props = {name: schema_for(tp) for name, tp in hints.items()}
    s: Dict[str, Any] = {"type": "object", "properties": props}
    req = [n for n in props if n in required]
    if req:
        s["required"] = req
    return s


class Tool:
    """A tool the model may call; the handler runs in this process. Constructed directly
    (``Tool(name=..., description=..., parameters=..., handler=...)``, the official low-level
    form), the handler is called ``fn(arguments)`` or ``fn(arguments, invocation)``, or
    ``fn(invocation)`` when its one parameter is annotated :class:`ToolInvocation`."""

    def __init__(self, name: str, handler: Callable[..., Any], *, description: Optional[str] = None,
                 parameters: Optional[Dict[str, Any]] = None, skip_permission: bool = False,
                 overrides_built_in_tool: bool = False, call_style: str = "arguments") -> None:
        if not name:
            raise InvalidConfigError("a tool needs a name")
        self.name = name
        self.handler = handler
        self.description = description
        self.parameters = parameters
        self.skip_permission = skip_permission
        self.overrides_built_in_tool = overrides_built_in_tool
        #: "kwargs": called as handler(**arguments); "model": handler(Model(**arguments));
        #: "arguments": handler(arguments) or handler(arguments, invocation); "official"
        #: (define_tool): handler(), handler(invocation), handler(params) or
        #: handler(params, invocation), params a model instance when a model is known.
        self.call_style = call_style
        self._model: Any = None
        #: "kwargs" style: parameters annotated with a dataclass or pydantic model, built from
        #: their JSON object before the call.
        self._typed: Dict[str, Any] = {}
        #: "official" style: (takes the params, takes the invocation).
        self._official = (True, True)
        self._invocation_only: Optional[bool] = None

    def definition(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        if self.parameters is not None:
            d["parameters"] = self.parameters
        if self.skip_permission:
            d["skipPermission"] = True
        if self.overrides_built_in_tool:
            d["overridesBuiltInTool"] = True
        return d

    def bind_args(self, arguments: Dict[str, Any], invocation: Any) -> "tuple[tuple, dict]":
        if self.call_style == "kwargs":
            kwargs = dict(arguments or {})
            for k, tp in self._typed.items():
                v = kwargs.get(k)
                if isinstance(v, dict):
                    kwargs[k] = _instance(tp, v)
            return (), kwargs
        if self.call_style == "model":
            return (self._model.model_validate(arguments or {}),), {}
        if self.call_style == "official":
            takes_params, takes_invocation = self._official
            out: List[Any] = []
            if takes_params:
                out.append(self._model.model_validate(arguments or {}) if self._model is not None
                           else arguments if arguments is not None else {})
            if takes_invocation:
                out.append(invocation)
            return tuple(out), {}
        if self._invocation_only is None:
            self._invocation_only = _takes_invocation_only(self.handler)
        if self._invocation_only:
            return (invocation,), {}
        try:
            n = len(inspect.signature(self.handler).parameters)
        except (TypeError, ValueError):
            n = 1
        return ((arguments,) if n < 2 else (arguments, invocation)), {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.handler(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


def tool(fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
         description: Optional[str] = None, skip_permission: bool = False,
         overrides_built_in_tool: bool = False) -> Any:
    """Declares a function (sync or async) as a tool. The argument schema comes from its type
    hints; a single parameter annotated with a pydantic model uses that model's schema, and
    the handler then receives a validated model instance. The description defaults to the
    docstring.

        @tool
        async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
            "Get the current weather for a city."
    """

    # Hints that name classes local to the caller (with postponed annotations) resolve there.
    caller_ns = dict(sys._getframe(1).f_locals)

    def wrap(f: Callable[..., Any]) -> Tool:
        sig = inspect.signature(f)
        try:
            hints = typing.get_type_hints(f)
        except NameError:
            hints = typing.get_type_hints(f, localns=caller_ns)
        params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        t = Tool(name or f.__name__, f, description=description or inspect.getdoc(f),
                 skip_permission=skip_permission, overrides_built_in_tool=overrides_built_in_tool,
                 call_style="kwargs")
        if len(params) == 1 and _pydantic_model(hints.get(params[0].name)):
            t._model = hints[params[0].name]
            t.call_style = "model"
            t.parameters = t._model.model_json_schema()
        else:
            required = {p.name for p in params if p.default is p.empty}
            t.parameters = _object_schema({p.name: hints.get(p.name, Any) for p in params}, required)
            t._typed = {p.name: _optional_inner(hints[p.name]) for p in params if p.name in hints
                        and _constructible(_optional_inner(hints[p.name]))}
        return t

    return wrap(fn) if fn is not None else wrap


def define_tool(name: Any = None, *, description: Optional[str] = None, handler: Optional[Callable[..., Any]] = None,
                parameters: Optional[Dict[str, Any]] = None, params_type: Any = None, skip_permission: bool = False,
                overrides_built_in_tool: bool = False) -> Any:
    """The official SDKs' tool factory, beside :func:`tool`. As a function,
    ``define_tool("name", description=..., handler=fn, parameters={...JSON schema...})`` (or
    ``params_type=SomeModel``, a pydantic model whose schema is sent and whose validated instance
    the handler gets); as a decorator, ``@define_tool(description=...)`` (the name defaults to the
    function's, a first parameter annotated with a pydantic model is its ``params_type``).

    The handler is called by its parameters: none -> ``fn()``; one annotated ``ToolInvocation``
    -> ``fn(invocation)``; one -> ``fn(params)``; two -> ``fn(params, invocation)``. ``params``
    is the model instance when a model is known, else the arguments dict. What it returns is a
    tool result as for any other tool (a string, a dict, ...)."""
    if callable(name) and handler is None:  # bare @define_tool
        return define_tool(description=description, parameters=parameters, params_type=params_type,
                           skip_permission=skip_permission, overrides_built_in_tool=overrides_built_in_tool)(name)
    if name is not None and not isinstance(name, str):
        raise InvalidConfigError(f"define_tool: the name must be a string, got {type(name).__name__}")
    if params_type is not None and not _pydantic_model(params_type):
        raise InvalidConfigError("define_tool: params_type must be a pydantic model class")
    caller_ns = dict(sys._getframe(1).f_locals)

    def wrap(fn: Callable[..., Any]) -> Tool:
        if not callable(fn):
            raise InvalidConfigError(f"define_tool: the handler must be callable, got {type(fn).__name__}")
        try:
            sig_params = [p for p in inspect.signature(fn).parameters.values()
                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            sig_params = []
        try:
            hints = typing.get_type_hints(fn)
        except NameError:
            try:
                hints = typing.get_type_hints(fn, localns=caller_ns)
            except Exception:
                hints = {}
        except Exception:
            hints = {}
        first = hints.get(sig_params[0].name) if sig_params else None
        model = params_type
        if not sig_params:
            official = (False, False)
        elif len(sig_params) == 1 and first is ToolInvocation:
            official = (False, True)
        else:
            official = (True, len(sig_params) >= 2)
            if model is None and _pydantic_model(first):
                model = first
        schema = parameters if parameters is not None else model.model_json_schema() if model is not None else None
        t = Tool(name or getattr(fn, "__name__", ""), fn, description=description or inspect.getdoc(fn) or None,
                 parameters=schema, skip_permission=skip_permission,
                 overrides_built_in_tool=overrides_built_in_tool, call_style="official")
        t._model = model
        t._official = official
        return t

    if handler is not None:
        if not name:
            raise InvalidConfigError("define_tool: a name is required with handler=")
        return wrap(handler)
    return wrap


def to_tool(obj: Any) -> Tool:
    """Accepts a Tool, a dict definition with a ``handler``, or a plain function."""
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, dict):
        d = dict(obj)
        handler = d.pop("handler", None)
        if handler is None or not callable(handler):
            raise InvalidConfigError(f"tool {d.get('name')!r} needs a callable 'handler'")
        known = {"name", "description", "parameters", "skip_permission", "skipPermission",
                 "overrides_built_in_tool", "overridesBuiltInTool"}
        unknown = set(d) - known
        if unknown:
            raise InvalidConfigError(f"tool {d.get('name')!r}: unknown keys {sorted(unknown)}")
        return Tool(d.get("name", ""), handler, description=d.get("description"), parameters=d.get("parameters"),
                    skip_permission=bool(d.get("skip_permission", d.get("skipPermission", False))),
                    overrides_built_in_tool=bool(d.get("overrides_built_in_tool", d.get("overridesBuiltInTool", False))))
    if callable(obj):
        return tool(obj)
    raise InvalidConfigError(f"not a tool: {obj!r} (use @tool, a Tool, or a dict with a handler)")
