//! Values across the boundary: `serde_json::Value` <-> Python objects, directly (no JSON text),
//! and core errors -> the exception classes of `copilot/errors.py`.

use copilot_core::{Error, ErrorKind, SessionEvent};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use std::time::Duration;

/// Deeper than this is refused (a self-referencing container would never end).
const MAX_DEPTH: usize = 256;

/// A JSON value as a Python object: dict, list, str, int, float, bool or None.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(o) => object_to_py(py, o)?.into_any(),
    })
}

fn object_to_py<'py>(py: Python<'py>, o: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, x) in o {
        d.set_item(k, to_py(py, x)?)?;
    }
    Ok(d)
}

/// A session event as its wire object (`type`, `data`, `id`, `timestamp`, `parentId`, and
/// `ephemeral`, `agentId` and any other envelope field when present).
pub fn event_to_py<'py>(py: Python<'py>, e: &SessionEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = object_to_py(py, &e.extra)?;
    d.set_item("type", &e.event_type)?;
    d.set_item("data", to_py(py, &e.data)?)?;
    d.set_item("id", &e.id)?;
    d.set_item("timestamp", &e.timestamp)?;
    d.set_item("parentId", e.parent_id.as_deref())?;
    if e.ephemeral {
        d.set_item("ephemeral", true)?;
    }
    if let Some(a) = &e.agent_id {
        d.set_item("agentId", a)?;
    }
    Ok(d)
}

/// A Python object as a JSON value: dict (str keys; other keys become their `str()`), list,
/// tuple, str, int, float, bool, None; pydantic models (`model_dump(mode="json")`) and
/// dataclass instances (`dataclasses.asdict`) too. Anything else is a `TypeError`.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_at(obj, 0)
}

fn from_py_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!("a value nested deeper than {MAX_DEPTH} levels (a cycle?)")));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err(format!("the integer {obj} does not fit in 64 bits")));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        return Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{x} is not a JSON number")));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_cow()?.into_owned(),
                Err(_) => k.str()?.to_cow()?.into_owned(),
            };
            m.insert(key, from_py_at(&v, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l.iter().map(|x| from_py_at(&x, depth + 1)).collect::<PyResult<_>>().map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|x| from_py_at(&x, depth + 1)).collect::<PyResult<_>>().map(Value::Array);
    }
    let py = obj.py();
    if obj.hasattr("model_dump")? && !obj.is_instance_of::<pyo3::types::PyType>() {
        let kwargs = PyDict::new(py);
        kwargs.set_item("mode", "json")?;
        return from_py_at(&obj.call_method("model_dump", (), Some(&kwargs))?, depth + 1);
    }
    let dataclasses = py.import("dataclasses")?;
    if dataclasses.call_method1("is_dataclass", (obj,))?.is_truthy()? && !obj.is_instance_of::<pyo3::types::PyType>() {
        return from_py_at(&dataclasses.call_method1("asdict", (obj,))?, depth + 1);
    }
    let type_name = obj.get_type().name()?;
    Err(PyTypeError::new_err(format!(
        "a {type_name} cannot be sent to the CLI (use dict, list, str, int, float, bool or None)"
    )))
}

/// A core error as an instance of the matching `copilot.errors` class (built by
/// `copilot.errors.from_native`), with the core's own description chained as `__cause__`.
pub fn py_error(py: Python<'_>, e: &Error) -> PyErr {
    static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let built = FROM_NATIVE.import(py, "copilot.errors", "from_native").and_then(|f| {
        let rpc = match e.rpc_error() {
            Some(r) => {
                let d = PyDict::new(py);
                d.set_item("code", r.code)?;
                d.set_item("message", &r.message)?;
                d.set_item("data", r.data.as_ref().map(|v| to_py(py, v)).transpose()?)?;
                d.into_any()
            }
            None => py.None().into_bound(py),
        };
        let args = (e.code(), e.kind().number(), e.message(), rpc, e.stderr_tail(), format!("{e:?}"), e.is_retriable());
        f.call1(args)
    });
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

/// A conversion failure of something the caller passed in (options, a config) as the core's
/// `invalid_config` error.
pub fn config_value(what: &str, obj: &Bound<'_, PyAny>) -> Result<Value, Error> {
    from_py(obj).map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("{what}: {e}")))
}

/// RPC params from Python: the object converted, or `default` when none was given.
pub fn rpc_params(py: Python<'_>, params: Option<&Bound<'_, PyAny>>, default: Value) -> PyResult<Value> {
    match params {
        Some(p) => config_value("params", p).map_err(|e| py_error(py, &e)),
        None => Ok(default),
    }
}

/// A per-call deadline from Python seconds: None = the default (`Ok(None)`); +infinity = no
/// deadline (`Ok(Some(None))`); a finite non-negative number = that deadline. Anything else is
/// an `invalid_config` error.
pub fn call_timeout(py: Python<'_>, seconds: Option<f64>) -> PyResult<Option<Option<Duration>>> {
    match seconds {
        None => Ok(None),
        Some(s) if s == f64::INFINITY => Ok(Some(None)),
        Some(s) if (0.0..1e9).contains(&s) => Ok(Some(Some(Duration::from_secs_f64(s)))),
        Some(s) => Err(py_error(
            py,
            &Error::new(ErrorKind::InvalidConfig, format!("timeout must be a non-negative number of seconds, got {s}")),
        )),
    }
}
