'use strict';
// @copilot-hub/node: the public API over the native addon (native.js). CommonJS; index.mjs
// re-exports it for `import`. Types: index.d.ts.
//
// This layer converts values (JSON text both ways) and delivers what the core sends on Node's
// thread. Payloads, reply forms and defaults, ordering, event filtering and the implicit start
// are the core's.

const native = require('./native.js');
const { ErrorCodes, ErrorNumbers } = require('./error-codes.js');
const protocol = require('./protocol.js');

// Strict type checking (tests): COPILOT_STRICT_TYPES=1 checks every event delivered and every
// typed result against the generated types (strict.js); otherwise nothing is loaded or checked.
const strict = process.env.COPILOT_STRICT_TYPES === '1' ? require('./strict.js').processChecker() : null;

const ERROR_MARK = 'COPILOT_ERROR:';

/** Symbol.asyncDispose (`await using`); Node releases without it get the well-known registry symbol TypeScript's helpers fall back to. */
const ASYNC_DISPOSE = Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose');

// ---------------------------------------------------------------------------------------------
// Keeping the event loop alive only while someone waits.
//
// The addon's thread-safe functions are weak: an open client, a session or an event listener
// never keeps Node running by itself. While a Promise of this package is pending on something
// that arrives through them (sendAndWait, an iterator's next()), one ref'd timer holds the loop
// open, and the waiting object is held strongly (the addon's callbacks only hold it weakly).

const holders = new Map();
let holdTimer = null;
function hold(owner) {
  holders.set(owner, (holders.get(owner) ?? 0) + 1);
  if (holdTimer === null) holdTimer = setInterval(() => {}, 0x7fffffff);
}
function release(owner) {
  const n = holders.get(owner);
  if (n === undefined) return;
  if (n > 1) holders.set(owner, n - 1);
  else holders.delete(owner);
  if (holders.size === 0 && holdTimer !== null) {
    clearInterval(holdTimer);
    holdTimer = null;
  }
}

function warn(what, e) {
  process.emitWarning(`@copilot-hub/node: ${what}: ${e && e.stack ? e.stack : e}`);
}

// ---------------------------------------------------------------------------------------------
// Errors.

/** The one error class of this package. `code` is stable (see ErrorCodes). */
class CopilotError extends Error {
  constructor(message, options = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CopilotError';
    this.code = options.code || ErrorCodes.INTERNAL;
    this.number = ErrorNumbers[this.code];
    if (options.rpc) {
      this.rpcCode = options.rpc.code;
      this.rpcMessage = options.rpc.message;
      if (options.rpc.data !== undefined && options.rpc.data !== null) this.rpcData = options.rpc.data;
    }
    if (options.stderr) this.stderr = options.stderr;
    this.isTransportFailure = Boolean(options.transport);
    this.isRetriable = Boolean(options.retriable);
  }
}

/** The cause chain of a core error: its Rust source errors, else the JSON-RPC error. */
function causeOf(info) {
  if (Array.isArray(info.causes) && info.causes.length > 0) {
    let cause;
    for (let i = info.causes.length - 1; i >= 0; i--) {
      cause = new Error(info.causes[i], cause ? { cause } : undefined);
    }
    return cause;
  }
  if (info.rpc) {
    const e = new Error(info.rpc.message);
    e.name = 'JsonRpcError';
    e.code = info.rpc.code;
    if (info.rpc.data !== undefined && info.rpc.data !== null) e.data = info.rpc.data;
    return e;
  }
  return undefined;
}

function errorFromInfo(info, fallbackCause) {
  let message = info.message || 'unknown error';
  if (info.stderr) message += `\nCLI stderr (last lines):\n${info.stderr}`;
  const cause = causeOf(info) ?? fallbackCause;
  return new CopilotError(message, { ...info, cause });
}

/** Turns whatever the addon threw into a CopilotError (anything else passes through). */
function fromNative(e) {
  if (e instanceof CopilotError) return e;
  const msg = e && typeof e.message === 'string' ? e.message : '';
  const at = msg.indexOf(ERROR_MARK);
  if (at >= 0) {
    try {
      return errorFromInfo(JSON.parse(msg.slice(at + ERROR_MARK.length)));
    } catch {
      // fall through
    }
  }
  if (e instanceof Error) {
    // napi argument conversion errors and the like: the caller passed something wrong.
    return new CopilotError(msg, { code: ErrorCodes.INVALID_CONFIG, cause: e });
  }
  return e;
}

async function call(fn) {
  try {
    return await fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** A native call that resolves to JSON text: its value. */
async function callJson(fn) {
  return JSON.parse(await call(fn));
}

function invalid(message) {
  return new CopilotError(message, { code: ErrorCodes.INVALID_CONFIG });
}

/** JSON text of a value for the addon (undefined is null). */
function enc(v, what) {
  try {
    return JSON.stringify(v === undefined ? null : v) ?? 'null';
  } catch (e) {
    throw invalid(`${what} is not JSON: ${e.message}`);
  }
}

/** The message of whatever a handler threw. */
function messageOf(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/** A permission handler that approves every request once. */
function approveAll() {
  return { kind: 'approve-once' };
}

function isZodSchema(s) {
  return Boolean(s) && typeof s === 'object' && typeof s.safeParse === 'function' && ('_zod' in s || '_def' in s);
}

let zodModule;
function toJsonSchema(schema, toolName) {
  // Tool arguments are an input: fields with defaults are optional (zod's io: "input").
  if (typeof schema.toJSONSchema === 'function') return schema.toJSONSchema({ io: 'input' });
  if (zodModule === undefined) {
    try {
      zodModule = require('zod');
    } catch {
      zodModule = null;
    }
  }
  if (zodModule && typeof zodModule.toJSONSchema === 'function') return zodModule.toJSONSchema(schema, { io: 'input' });
  throw invalid(
    `tool ${toolName}: parameters is a zod schema, but zod >= 4 (with toJSONSchema) could not be loaded; ` +
      'install zod 4 or pass a JSON schema',
  );
}

/** Declares a tool (the official SDK's helper): `defineTool(name, {description, parameters, handler})`. */
function defineTool(name, config) {
  if (typeof name === 'object' && name !== null) return { ...name };
  return { name, ...config };
}

/**
 * The official permission handler reads the CLI's request fields on its first argument
 * (`request.fullCommandText`, …): each field of `payload.request` that the payload does not
 * have itself is readable there too, non-enumerable (the payload's keys and JSON stay the core's).
 */
function exposeRequestFields(payload, key = 'request') {
  const req = payload[key];
  if (req === null || typeof req !== 'object' || Array.isArray(req)) return;
  for (const [k, v] of Object.entries(req)) {
    if (Object.prototype.hasOwnProperty.call(payload, k)) continue;
    Object.defineProperty(payload, k, { value: v, enumerable: false, configurable: true });
  }
}

function cap(s) {
  return s[0].toUpperCase() + s.slice(1);
}

// The session option of each request kind the host answers with one function: on<Kind> or
// on<Kind>Request (onPermissionRequest, onUserInputRequest, onExitPlanMode, ...), from the
// core's list. Tools have a handler each (`tools`), hooks one per hook type (`hooks`).
// `command`, `sessionFs` and `gitHubToken` have their own options (`commands`,
// `createSessionFsProvider`, `gitHubTokenProvider`).
const OWN_OPTION_KINDS = new Set(['tool', 'hook', 'command', 'sessionFs', 'gitHubToken']);
const HANDLER_OPTIONS = new Map();
for (const kind of native.requestKinds()) {
  if (OWN_OPTION_KINDS.has(kind)) continue;
  HANDLER_OPTIONS.set(`on${cap(kind)}`, kind);
  HANDLER_OPTIONS.set(`on${cap(kind)}Request`, kind);
}
/** The catch-all entry of `hooks`: called for hook types without their own entry. */
const ANY_HOOK = 'onHook';

// ---------------------------------------------------------------------------------------------
// Trace context (W3C `traceparent` / `tracestate`).

let otelApi;
/** `@opentelemetry/api` when the application has it (an optional peer dependency), else null. */
function otel() {
  if (otelApi === undefined) {
    try {
      otelApi = require('@opentelemetry/api');
    } catch {
      otelApi = null;
    }
  }
  return otelApi;
}

/** `{traceparent, tracestate?}` of a provider's answer, or undefined. */
function traceFields(tc) {
  if (tc === null || typeof tc !== 'object' || typeof tc.traceparent !== 'string' || tc.traceparent === '') return undefined;
  const out = { traceparent: tc.traceparent };
  if (typeof tc.tracestate === 'string' && tc.tracestate !== '') out.tracestate = tc.tracestate;
  return out;
}

/**
 * The host's current trace context: the client's `onGetTraceContext`, else the active
 * OpenTelemetry context (through `@opentelemetry/api`'s propagator, when installed). Undefined,
 * the fields, or a Promise of either; a provider that fails is reported as a warning.
 */
function currentTraceContext(provider) {
  const failed = (e) => {
    warn('onGetTraceContext failed', e);
    return undefined;
  };
  if (provider) {
    let v;
    try {
      v = provider();
    } catch (e) {
      return failed(e);
    }
    if (v !== null && typeof v === 'object' && typeof v.then === 'function') return Promise.resolve(v).then(traceFields, failed);
    return traceFields(v);
  }
  const api = otel();
  if (api === null) return undefined;
  const carrier = {};
  try {
    api.propagation.inject(api.context.active(), carrier);
  } catch (e) {
    return failed(e);
  }
  return traceFields(carrier);
}

/**
 * Adds the host's trace context to `obj` (a session config or message options) unless it has
 * its own `traceparent`; returns `obj`, or a Promise of it when the provider is async.
 */
function withTraceContext(obj, provider) {
  if (obj.traceparent !== undefined && obj.traceparent !== null) return obj;
  const tc = currentTraceContext(provider);
  if (tc !== undefined && typeof tc.then === 'function') return tc.then((f) => (f ? Object.assign(obj, f) : obj));
  return tc ? Object.assign(obj, tc) : obj;
}

/** Runs `fn` in the span the CLI ran a tool under (the payload's trace context), with OpenTelemetry installed. */
function inToolTraceContext(payload, fn) {
  if (typeof payload.traceparent !== 'string' || payload.traceparent === '') return fn();
  const api = otel();
  if (api === null) return fn();
  const carrier = { traceparent: payload.traceparent };
  if (typeof payload.tracestate === 'string' && payload.tracestate !== '') carrier.tracestate = payload.tracestate;
  return api.context.with(api.propagation.extract(api.context.active(), carrier), fn);
}

// ---------------------------------------------------------------------------------------------
// Session filesystem (the official `createSessionFsProvider`).

/** The provider method of each `sessionFs` operation, and its arguments from the request. */
const SESSION_FS_OPERATIONS = {
  readFile: (p, r) => p.readFile(r.path),
  writeFile: (p, r) => p.writeFile(r.path, r.content, r.mode ?? undefined),
  appendFile: (p, r) => p.appendFile(r.path, r.content, r.mode ?? undefined),
  exists: (p, r) => p.exists(r.path),
  stat: (p, r) => p.stat(r.path),
  mkdir: (p, r) => p.mkdir(r.path, Boolean(r.recursive), r.mode ?? undefined),
  readdir: (p, r) => p.readdir(r.path),
  readdirWithTypes: (p, r) => p.readdirWithTypes(r.path),
  rm: (p, r) => p.rm(r.path, Boolean(r.recursive), Boolean(r.force)),
  rename: (p, r) => p.rename(r.src, r.dest),
};
/** The operations whose answer is nothing. */
const SESSION_FS_VOID = new Set(['writeFile', 'appendFile', 'mkdir', 'rm', 'rename']);

/** A date (or a date-like value) as ISO text; numbers (Unix ms) and text pass through. */
function isoTime(v) {
  return v instanceof Date ? v.toISOString() : v;
}

/**
 * Runs a `sessionFs` request on the provider: the operation's plain answer, `{error: {code:
 * "ENOENT", message}}` when the provider failed with `code === "ENOENT"`; other failures reject.
 */
async function sessionFsCall(provider, operation, req) {
  const op = SESSION_FS_OPERATIONS[operation];
  const method = operation === 'sqliteQuery' || operation === 'sqliteExists' ? 'sqlite' : operation;
  try {
    if (op === undefined) {
      const sqlite = provider.sqlite;
      if (operation === 'sqliteQuery' && sqlite && typeof sqlite.query === 'function') {
        return (await sqlite.query(req.queryType, req.query, req.params ?? undefined)) ?? null;
      }
      if (operation === 'sqliteExists' && sqlite && typeof sqlite.exists === 'function') return await sqlite.exists();
      throw new Error(`the session filesystem provider does not implement ${operation}`);
    }
    if (typeof provider[method] !== 'function') throw new Error(`the session filesystem provider has no ${method}() method`);
    const v = await op(provider, req);
    if (SESSION_FS_VOID.has(operation)) return null;
    if (operation === 'stat' && v !== null && typeof v === 'object') return { ...v, mtime: isoTime(v.mtime), birthtime: isoTime(v.birthtime) };
    return v === undefined ? null : v;
  } catch (e) {
    if (e !== null && typeof e === 'object' && e.code === 'ENOENT') return { error: { code: 'ENOENT', message: messageOf(e) } };
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Session.

function abortError(signal) {
  const reason = signal && signal.reason;
  const text = reason instanceof Error ? reason.message : reason !== undefined ? String(reason) : 'aborted';
  return new CopilotError(`sendAndWait was aborted: ${text}`, { code: ErrorCodes.CANCELLED, cause: reason });
}

function fn(name, v) {
  if (typeof v !== 'function') throw invalid(`session option \`${name}\` must be a function`);
  return v;
}

/** Milliseconds from JS as the core's seconds (0 or Infinity: no deadline, 0); undefined/null: null (the default). */
function deadlineSeconds(ms, what) {
  if (ms === undefined || ms === null) return null;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw invalid(`${what} must be a non-negative number of milliseconds`);
  return ms === Infinity ? 0 : ms / 1000;
}

/** The per-call options of `rpc`: `{timeout}` in ms → the addon's seconds (null: the default). */
function rpcTimeout(options) {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object') throw invalid('rpc options must be an object ({timeout})');
  return deadlineSeconds(options.timeout, 'rpc timeout');
}

// ---------------------------------------------------------------------------------------------
// Typed RPC namespaces (generated table: protocol.js).

/**
 * The `rpc` object of a client or a session: the generic call `rpc(method, params, options)`,
 * carrying the typed namespaces of the scope (`rpc.model.switchTo(params, options)`, …). Every
 * typed call goes through `generic` (the addon's one call); results are checked in strict mode.
 */
function typedRpc(generic, methods) {
  const root = (method, params, options) => generic(method, params, options);
  const define = (node, key, value) => Object.defineProperty(node, key, { value, enumerable: true, configurable: true, writable: false });
  for (const [path, wire, kind, isVoid] of methods) {
    const parts = path.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i];
      // `name` and `length` of the function give way to namespaces (`session.rpc.name.get()`).
      if (!Object.prototype.hasOwnProperty.call(node, p) || typeof node[p] !== 'object') define(node, p, {});
      node = node[p];
    }
    const run = async (params, options) => {
      const v = await generic(wire, params === undefined || params === null ? {} : params, options);
      if (strict !== null) strict.result(wire, v);
      return isVoid ? undefined : v;
    };
    define(node, parts[parts.length - 1], kind === 0 ? (options) => run(undefined, options) : run);
  }
  return root;
}

/** Checks a hand-written call's value against a generated type in strict mode; returns it. */
function checked(typeName, v, what) {
  if (strict !== null) strict.value(typeName, v, what);
  return v;
}

/** Message options for the core: `idleTimeout` from ms to seconds. */
function messageJson(options) {
  const msg = typeof options === 'string' ? { prompt: options } : { ...(options || {}) };
  delete msg.signal;
  if (msg.idleTimeout !== undefined) msg.idleTimeout = deadlineSeconds(msg.idleTimeout, 'idleTimeout') ?? 0;
  return msg;
}

class CopilotSession {
  #native;
  #client;
  /** AbortControllers of the async handlers still running, by request id. */
  #running = new Map();
  /** Event listeners by subscription id: `{fn, close?}`. */
  #listeners = new Map();
  /** Pending sendAndWait calls by call id. */
  #waits = new Map();
  #closed = false;
  #tools = new Map();
  /** Handlers by request kind. */
  #handlers = new Map();
  /** Hook handlers by the name hook requests carry, and the catch-all. */
  #hooks = new Map();
  #anyHook = null;
  #sessionId;
  #info;
  #rpc;
  /** Slash-command handlers by command name. */
  #commands = new Map();
  #fsFactory = null;
  #fsProvider = null;
  /** `capabilities` of the create/resume result, with `capabilities.changed` merged in. */
  #capabilities = {};
  #ui;
  /** send() holds Node open until the session's next `session.idle` (the official quickstart awaits it). */
  #turnHeld = false;
  #idleOff = null;

  /** @internal Use createSession / resumeSession of a CopilotClient or a CopilotPool. */
  constructor(client, nativeClient, config) {
    this.#client = client;
    if (config !== undefined && config !== null && typeof config !== 'object') throw invalid('session config must be an object');
    const { wire, host, onEvent } = this.#prepare(config || {});
    if (this.#fsFactory !== null) {
      const provider = this.#fsFactory(this);
      if (provider === null || typeof provider !== 'object') throw invalid('createSessionFsProvider must return a session filesystem provider object');
      this.#fsProvider = provider;
    }
    // The addon holds its callback strongly; the callback holds the session weakly, so a
    // session nobody uses can be collected (the client holds open sessions).
    const ref = new WeakRef(this);
    try {
      this.#native = nativeClient.session(enc(wire, 'session config'), enc(host, 'host options'), () => {
        const s = ref.deref();
        if (s !== undefined) s.#dispatch();
      });
    } catch (e) {
      throw fromNative(e);
    }
    if (onEvent) this.on(onEvent);
    this.#listen(['capabilities.changed'], { fn: (ev) => this.#mergeCapabilities(ev && ev.data) });
  }

  #mergeCapabilities(changed) {
    if (changed === null || typeof changed !== 'object') return;
    const next = { ...this.#capabilities };
    for (const [k, v] of Object.entries(changed)) {
      const old = next[k];
      next[k] = v !== null && typeof v === 'object' && old !== null && typeof old === 'object' ? { ...old, ...v } : v;
    }
    this.#capabilities = next;
  }

  /** Splits a session config into wire JSON, the core's host options and the JS handlers. */
  #prepare(config) {
    const host = { handlers: [], tools: [], hooks: [] };
    const wire = {};
    let onEvent = null;
    for (const [k, v] of Object.entries(config)) {
      if (v === undefined) continue;
      const kind = HANDLER_OPTIONS.get(k);
      if (kind !== undefined) {
        this.#handlers.set(kind, fn(k, v));
        host.handlers.push(kind);
        continue;
      }
      switch (k) {
        case 'tools': {
          if (!Array.isArray(v)) throw invalid('session option `tools` must be an array');
          wire.tools = v.map((t) => {
            if (!t || typeof t.name !== 'string') throw invalid('every tool needs a `name` string');
            const { handler, parameters, ...decl } = t;
            let schema = null;
            if (isZodSchema(parameters)) {
              schema = parameters;
              const js = { ...toJsonSchema(parameters, t.name) };
              delete js.$schema;
              decl.parameters = js;
            } else if (parameters !== undefined) {
              decl.parameters = parameters;
            }
            if (handler !== undefined) {
              if (typeof handler !== 'function') throw invalid(`tool ${t.name}: handler must be a function`);
              this.#tools.set(t.name, { handler, schema });
              host.tools.push(t.name);
            }
            return decl;
          });
          break;
        }
        case 'hooks':
          if (typeof v !== 'object' || v === null) throw invalid('session option `hooks` must be an object of functions');
          for (const [name, h] of Object.entries(v)) {
            if (h === undefined) continue;
            if (typeof h !== 'function') throw invalid(`hooks.${name} must be a function`);
            if (name === ANY_HOOK) this.#anyHook = h;
            else this.#hooks.set(name, h);
          }
          break;
        case 'commands': {
          if (!Array.isArray(v)) throw invalid('session option `commands` must be an array of {name, description, handler}');
          wire.commands = v.map((c) => {
            if (!c || typeof c.name !== 'string' || c.name === '') throw invalid('every command needs a `name` string');
            const { handler, ...decl } = c;
            if (typeof handler !== 'function') throw invalid(`command ${c.name}: handler must be a function`);
            if (this.#commands.has(c.name)) throw invalid(`command ${c.name} is given twice`);
            this.#commands.set(c.name, handler);
            return decl;
          });
          if (this.#commands.size > 0) host.handlers.push('command');
          break;
        }
        case 'createSessionFsProvider':
          this.#fsFactory = fn(k, v);
          host.handlers.push('sessionFs');
          break;
        case 'gitHubTokenProvider':
          this.#handlers.set('gitHubToken', fn(k, v));
          host.handlers.push('gitHubToken');
          break;
        case 'onEvent':
          onEvent = fn(k, v);
          break;
        case 'systemMessage':
          for (const [name, sec] of Object.entries((v && v.sections) || {})) {
            if (sec && typeof sec.action === 'function') {
              throw invalid(`systemMessage.sections.${name}.action is a function: set it to "transform" and answer with onSystemMessageTransform`);
            }
          }
          wire[k] = v;
          break;
        default:
          if (typeof v === 'function') throw invalid(`session option \`${k}\` cannot be a function`);
          wire[k] = v;
      }
    }
    // The named hook types reach the host under the keys given here; with the catch-all, the
    // other types too, under the CLI's spelling.
    host.hooks = [...this.#hooks.keys()];
    if (this.#anyHook !== null) host.handlers.push('hook');
    return { wire, host, onEvent };
  }

  /** @internal Creates the session, or resumes `resumeId`. */
  async _open(resumeId) {
    await call(() => this.#native.open(resumeId ?? null));
    this.#sessionId = this.#native.sessionId;
    this.#info = JSON.parse(this.#native.info);
    const caps = this.#info && this.#info.capabilities;
    this.#capabilities = {};
    this.#mergeCapabilities(caps);
  }

  /**
   * What the session's host supports (`{ui: {elicitation, …}}`, from the create/resume result,
   * kept current by `capabilities.changed` events). Check `capabilities.ui?.elicitation`
   * before `session.ui`.
   */
  get capabilities() {
    return this.#capabilities;
  }

  /**
   * Dialogs through the session's elicitation provider (a client with `onElicitationRequest`,
   * or the CLI's UI): `elicitation({message, requestedSchema})` → `{action, content?}`,
   * `confirm(message)` → boolean, `select(message, options)` → the choice or null,
   * `input(message, options?)` → the text or null. Without the capability they reject with
   * `invalid_config`.
   */
  get ui() {
    if (this.#ui === undefined) {
      const ui = (op, params) => callJson(() => this.#native.ui(op, enc(params, `ui.${op} params`)));
      const text = (what, v) => {
        if (typeof v !== 'string') throw invalid(`${what} needs a message string`);
        return v;
      };
      this.#ui = Object.freeze({
        elicitation: async (params) => {
          if (params === null || typeof params !== 'object') throw invalid('ui.elicitation needs {message, requestedSchema}');
          return ui('elicitation', { message: text('ui.elicitation', params.message), requestedSchema: params.requestedSchema });
        },
        confirm: async (message) => ui('confirm', { message: text('ui.confirm', message) }),
        select: async (message, options) => {
          if (!Array.isArray(options)) throw invalid('ui.select needs an array of options');
          return ui('select', { message: text('ui.select', message), options });
        },
        input: async (message, options) =>
          ui('input', options === undefined || options === null ? { message: text('ui.input', message) } : { message: text('ui.input', message), options }),
      });
    }
    return this.#ui;
  }

  /** The session id. */
  get sessionId() {
    return this.#sessionId;
  }

  /** The session's workspace folder on the CLI's machine (when it has one). */
  get workspacePath() {
    return this.#native.workspacePath ?? undefined;
  }

  /** The raw `session.create` / `session.resume` result. */
  get info() {
    return this.#info;
  }

  /**
   * The fencing token of the session's lease (a pooled session with a lease store): it grows
   * with every acquisition of the session's lease. Undefined otherwise.
   */
  get leaseToken() {
    return this.#native.leaseToken ?? undefined;
  }

  /** The URL of the server a pooled session is on now (it changes when the session moves). */
  get server() {
    return this.#native.server ?? undefined;
  }

  /** Takes the batch of the session's host stream the addon queued, and delivers it. */
  #dispatch() {
    let messages;
    try {
      const batch = this.#native.take();
      if (batch === null) return;
      messages = JSON.parse(batch);
    } catch (e) {
      warn('unreadable batch from the addon', e);
      return;
    }
    for (const m of messages) {
      try {
        switch (m[0]) {
          case 0: {
            const subs = m[1];
            const event = m[2];
            if (strict !== null) strict.event(event);
            for (let i = 0; i < subs.length; i++) {
              const l = this.#listeners.get(subs[i]);
              if (l === undefined) continue;
              try {
                l.fn(event);
              } catch (e) {
                warn('a session event listener threw', e);
              }
            }
            break;
          }
          case 1:
            this.#serve(m[1], m[2], m[3], m[4]);
            break;
          case 2:
            this.#settle(m[1], m[2], m[3]);
            break;
          case 3:
            this.#closed = true;
            for (const l of [...this.#listeners.values()]) if (l.close) l.close();
            break;
          case 4:
            this.#cancel(m[1], m[2]);
            break;
          default:
        }
      } catch (e) {
        warn('internal dispatch error', e);
      }
    }
  }

  /**
   * Runs the handler of a host request (picked by kind and name) and answers the core. The
   * payload carries a non-enumerable `signal`, aborted when the core no longer wants the answer.
   */
  #serve(id, kind, name, payload) {
    const nat = this.#native;
    const controller = new AbortController();
    Object.defineProperty(payload, 'signal', { value: controller.signal, enumerable: false });
    let run;
    if (kind === 'tool') {
      const t = this.#tools.get(name);
      if (t) {
        run = () => {
          let args = payload.arguments;
          if (t.schema) {
            const r = t.schema.safeParse(args ?? {});
            if (!r.success) throw new Error(`invalid arguments for tool ${name}: ${r.error.message}`);
            args = r.data;
          }
          // With OpenTelemetry, the handler runs in the span the CLI ran the tool under.
          return inToolTraceContext(payload, () => t.handler(args, payload));
        };
      }
    } else if (kind === 'command') {
      const h = this.#commands.get(name);
      if (!h) {
        nat.fail(id, `Unknown command: ${name}`);
        return;
      }
      // The official CommandContext {sessionId, command, commandName, args}; what it returns is ignored.
      run = () => {
        const r = h(payload);
        return r !== null && typeof r === 'object' && typeof r.then === 'function' ? Promise.resolve(r).then(() => null) : null;
      };
    } else if (kind === 'sessionFs') {
      const provider = this.#fsProvider;
      if (provider) run = () => sessionFsCall(provider, name, payload);
    } else {
      const h = kind === 'hook' ? (this.#hooks.get(name) ?? this.#anyHook) : this.#handlers.get(kind);
      if (h) {
        // Today's official two-argument form: `(request, invocation)`; a one-argument handler
        // simply ignores the second.
        const invocation = Object.freeze({ sessionId: typeof payload.sessionId === 'string' ? payload.sessionId : this.#sessionId });
        if (kind === 'permission') exposeRequestFields(payload);
        // The official hook handler reads the hook input on its first argument
        // (`input.toolName`): the same non-enumerable exposure of `payload.input`.
        else if (kind === 'hook') exposeRequestFields(payload, 'input');
        // Strict mode: the input of a typed hook type must read as its generated type.
        const typed = kind === 'hook' && strict !== null ? protocol.HOOK_TYPES[payload.hookType] : undefined;
        if (typed !== undefined) strict.value(typed.input, payload.input, `${payload.hookType} hook input`);
        run = () => h(payload, invocation);
      }
    }
    if (!run) {
      nat.fail(id, `no ${kind} handler${name ? ` for ${name}` : ''} is registered`);
      return;
    }
    const ok = (v) => {
      if (controller.signal.aborted) return; // cancelled: the core answered already
      let json;
      try {
        json = JSON.stringify(v === undefined ? null : v) ?? 'null';
      } catch (e) {
        nat.fail(id, `the ${kind} handler returned a value that is not JSON: ${e.message}`);
        return;
      }
      nat.reply(id, json);
    };
    const failed = (e) => {
      if (!controller.signal.aborted) nat.fail(id, messageOf(e));
    };
    let v;
    try {
      v = run();
    } catch (e) {
      failed(e);
      return;
    }
    if (v !== null && typeof v === 'object' && typeof v.then === 'function') {
      this.#running.set(id, controller);
      Promise.resolve(v)
        .then(ok, failed)
        .catch((e) => warn(`could not answer a ${kind} request`, e))
        .finally(() => this.#running.delete(id));
    } else {
      ok(v);
    }
  }

  /** The core no longer wants the answer to request `id`: abort its handler's signal. */
  #cancel(id, reason) {
    const controller = this.#running.get(id);
    if (controller === undefined) return; // answered already
    this.#running.delete(id);
    controller.abort(new CopilotError(`the handler was cancelled: ${reason}`, { code: ErrorCodes.CANCELLED }));
  }

  #settle(callId, ok, value) {
    const w = this.#waits.get(callId);
    if (!w) return;
    this.#waits.delete(callId);
    w.cleanup();
    if (ok) w.resolve(value ?? undefined);
    else w.reject(errorFromInfo(value, w.cause));
  }

  /** Subscribes `listener` to events of `types` (all: null) through the core's filter. */
  #listen(types, listener) {
    let id;
    try {
      id = this.#native.subscribe(types);
    } catch (e) {
      throw fromNative(e);
    }
    this.#listeners.set(id, listener);
    return () => {
      if (this.#listeners.delete(id)) this.#native.unsubscribe(id);
    };
  }

  /**
   * Listens to events: `on(fn)` for all, `on(type, fn)` for one type, `on([types], fn)` for
   * some. Returns a function that unsubscribes.
   */
  on(typeOrFn, maybeFn) {
    const all = typeof typeOrFn === 'function';
    const listener = all ? typeOrFn : maybeFn;
    if (typeof listener !== 'function') throw invalid('session.on needs a function');
    const types = all ? null : Array.isArray(typeOrFn) ? typeOrFn : [typeOrFn];
    return this.#listen(types, { fn: listener });
  }

  /**
   * Events as an async iterator (optionally of one type), from now until the session is
   * disconnected or the iterator is closed (`break`).
   */
  events(type) {
    const queue = [];
    let waiter = null;
    let done = this.#closed;
    let off = null;
    const wake = (result) => {
      const w = waiter;
      waiter = null;
      release(this);
      w(result);
    };
    const finish = () => {
      done = true;
      if (off) off();
      if (waiter) wake({ value: undefined, done: true });
    };
    if (!done) {
      off = this.#listen(type === undefined ? null : [type], {
        fn: (ev) => {
          if (waiter) wake({ value: ev, done: false });
          else queue.push(ev);
        },
        // The session's events ended: deliver what is queued, then end.
        close: finish,
      });
    }
    return {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift(), done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        hold(this);
        return new Promise((resolve) => {
          waiter = resolve;
        });
      },
      return: () => {
        queue.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  [Symbol.asyncIterator]() {
    return this.events();
  }

  /**
   * Queues a prompt; resolves to the message id once the CLI accepted it. Until the session's
   * next `session.idle` (or its end), Node's event loop stays open, as with the official SDK's
   * socket: `await session.send(…)` then awaiting a listener's idle works in a bare script.
   */
  send(options) {
    let msg;
    try {
      msg = messageJson(options);
    } catch (e) {
      return Promise.reject(e);
    }
    // Held before the call: the turn's idle may be delivered before the call's answer.
    this.#holdTurn();
    const go = (m) => call(() => this.#native.send(enc(m, 'message options')));
    const traced = withTraceContext(msg, this.#client._traceProvider);
    return (typeof traced.then === 'function' ? traced.then(go) : go(traced)).catch((e) => {
      this.#releaseTurn();
      throw e;
    });
  }

  #holdTurn() {
    if (this.#closed || this.#turnHeld) return;
    if (this.#idleOff === null) {
      try {
        this.#idleOff = this.#listen(['session.idle'], { fn: () => this.#releaseTurn(), close: () => this.#releaseTurn() });
      } catch {
        return; // the session is gone: send() fails on its own
      }
    }
    this.#turnHeld = true;
    hold(this);
  }

  #releaseTurn() {
    if (!this.#turnHeld) return;
    this.#turnHeld = false;
    release(this);
  }

  /**
   * Sends a prompt and waits until the session is idle. Resolves to the last
   * `assistant.message` of the turn (or undefined). Rejects with `session_error` when the turn
   * failed, `timeout` after `timeout` ms (default 60000; the turn keeps running), and
   * `cancelled` when `signal` aborts (the turn is aborted too), `turn_outcome_unknown` when
   * the connection was lost mid-turn. `idleTimeout` (ms) fails it with `timeout` when the
   * session sends no event for that long. Every event of the turn has reached the listeners
   * before it settles (the core queues the result after them).
   */
  sendAndWait(options, timeoutOrOptions) {
    let signal = options && typeof options === 'object' ? options.signal : undefined;
    let opts;
    try {
      opts = messageJson(options);
    } catch (e) {
      return Promise.reject(e);
    }
    let timeout;
    if (typeof timeoutOrOptions === 'number') timeout = timeoutOrOptions;
    else if (timeoutOrOptions && typeof timeoutOrOptions === 'object') {
      timeout = timeoutOrOptions.timeout;
      signal = timeoutOrOptions.signal ?? signal;
      if (timeoutOrOptions.idleTimeout !== undefined) {
        try {
          opts.idleTimeout = deadlineSeconds(timeoutOrOptions.idleTimeout, 'idleTimeout') ?? 0;
        } catch (e) {
          return Promise.reject(e);
        }
      }
    }
    if (timeout !== undefined) {
      if (typeof timeout !== 'number' || !(timeout >= 0)) return Promise.reject(invalid('timeout must be a number of milliseconds'));
      opts.timeout = timeout / 1000;
    }
    // The host's trace context (onGetTraceContext / OpenTelemetry) unless the caller gave one.
    const traced = withTraceContext(opts, this.#client._traceProvider);
    if (typeof traced.then === 'function') return traced.then(() => this.#wait(opts, signal));
    return this.#wait(opts, signal);
  }

  /** sendAndWait's call, once its options are complete. */
  #wait(opts, signal) {
    if (signal && signal.aborted) return Promise.reject(abortError(signal));
    const nat = this.#native;
    return new Promise((resolve, reject) => {
      let callId;
      try {
        callId = nat.sendAndWait(enc(opts, 'message options'));
      } catch (e) {
        reject(fromNative(e));
        return;
      }
      let onAbort = null;
      hold(this);
      this.#waits.set(callId, {
        resolve,
        reject,
        cause: undefined,
        cleanup: () => {
          release(this);
          if (onAbort) signal.removeEventListener('abort', onAbort);
        },
      });
      if (signal) {
        onAbort = () => {
          const w = this.#waits.get(callId);
          if (w) w.cause = signal.reason;
          nat.cancelWait(callId, abortError(signal).message);
          nat.abort().catch(() => {});
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Aborts the running turn (fine when idle). */
  abort() {
    return call(() => this.#native.abort());
  }

  /** The persisted events of the session (no ephemeral ones). */
  async getMessages() {
    const events = await callJson(() => this.#native.getMessages());
    if (strict !== null && Array.isArray(events)) for (const e of events) strict.event(e);
    return events;
  }

  /** Same as getMessages() (today's official name). */
  getEvents() {
    return this.getMessages();
  }

  /** Switches the model: `setModel("gpt-5")` or `setModel("gpt-5", {reasoningEffort: "high"})`. */
  async setModel(model, options) {
    const effort = typeof options === 'string' ? options : options && options.reasoningEffort;
    return checked('ModelSwitchToResult', await callJson(() => this.#native.setModel(model, effort ?? null)), 'setModel');
  }

  /**
   * Any session-scoped method by name (for methods newer than the schema); `sessionId` is added
   * to `params`. `options.timeout`: this call's deadline in ms instead of the client's
   * `requestTimeout` (0 or Infinity: none).
   */
  call(method, params, options) {
    return callJson(() => this.#native.rpc(method, enc(params, 'rpc params'), rpcTimeout(options)));
  }

  /**
   * The typed session methods of the schema (`session.rpc.model.switchTo({modelId})`), on a
   * function that is the generic call too (`session.rpc(method, params, options)`, as `call`).
   */
  get rpc() {
    if (this.#rpc === undefined) this.#rpc = typedRpc((m, p, o) => this.call(m, p, o), protocol.SESSION_METHODS);
    return this.#rpc;
  }

  /** Detaches from the session; it stays on disk and can be resumed. Idempotent. */
  async disconnect() {
    try {
      await call(() => this.#native.disconnect());
    } finally {
      this.#releaseTurn();
    }
    this.#client._forget(this);
  }

  /** @internal The owner stopped: nothing of this session keeps Node open any more. */
  _stopped() {
    this.#releaseTurn();
  }

  /** Same as disconnect() (the guide's name). */
  destroy() {
    return this.disconnect();
  }

  /** `await using session = await client.createSession(…)`: disconnects at the end of the scope. */
  [ASYNC_DISPOSE]() {
    return this.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Client.

function toDate(s) {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function toMetadata(m) {
  return {
    ...m,
    startTime: toDate(m.startTime),
    modifiedTime: toDate(m.modifiedTime),
    createdAt: toDate(m.createdAt || m.startTime),
  };
}

/** Opens a session of a client or a pool through the addon's one path (create, or resume `resumeId`). */
async function openSession(owner, nativeOwner, sessions, config, resumeId) {
  // The host's trace context (onGetTraceContext / OpenTelemetry) unless the config has one.
  let cfg = config === undefined || config === null ? {} : config;
  if (typeof cfg === 'object' && !Array.isArray(cfg)) {
    cfg = withTraceContext({ ...cfg }, owner._traceProvider);
    if (typeof cfg.then === 'function') cfg = await cfg; // only an async onGetTraceContext waits
  }
  const s = new CopilotSession(owner, nativeOwner, cfg);
  await s._open(resumeId);
  sessions.add(s);
  return s;
}

/** Stops a client's or a pool's reapers, then the native object; resolves to the errors met (never rejects). */
async function stopOwner(nat, reapers, sessions) {
  for (const r of [...reapers]) r.stop();
  try {
    await call(() => nat.stop());
    return [];
  } catch (e) {
    return [e];
  } finally {
    for (const s of sessions) s._stopped();
    sessions.clear();
  }
}

async function listSessionsOf(nat, filter) {
  const list = await callJson(() => nat.listSessions(filter === undefined ? null : enc(filter, 'session list filter')));
  if (strict !== null) list.forEach((m, i) => strict.value('LocalSessionMetadataValue', m, `listSessions[${i}]`));
  return list.map(toMetadata);
}

function checkResumeId(sessionId) {
  if (typeof sessionId !== 'string' || sessionId === '') throw invalid('resumeSession needs a session id string');
}

/** Cleanup options for the core (seconds), and the JS-only `onSweep`. */
function cleanupJson(options, what) {
  if (options === null || typeof options !== 'object') throw invalid(`${what} needs an options object ({maxAge, maxIdle, includeOpen})`);
  const { onSweep, ...rest } = options;
  if (onSweep !== undefined && typeof onSweep !== 'function') throw invalid('onSweep must be a function');
  return { json: enc(rest, 'cleanup options'), onSweep };
}

function reaperInterval(seconds) {
  if (typeof seconds !== 'number' || !(seconds > 0) || !Number.isFinite(seconds)) {
    throw invalid('the reaper interval must be a positive number of seconds');
  }
  return seconds;
}

/** The `{stop()}` handle of a background reaper. */
function reaperHandle(nat, onStop) {
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      nat.stop();
      onStop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Runtime connections (the official SDKs' `connection` option).

function connectionOpts(opts, what) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object') throw invalid(`${what} needs an options object`);
  return opts;
}

/** Copies the defined fields of `o` among `keys` (the core refuses null and unknown fields). */
function definedFields(kind, o, keys) {
  const out = { kind };
  for (const k of keys) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    out[k] = k === 'args' ? Array.from(v) : v;
  }
  return Object.freeze(out);
}

/**
 * How a client reaches the CLI, for the client option `connection` (the official SDKs' form,
 * beside `cliUrl`, `useStdio`, `port`, `cliPath`, `cliArgs` and `connectionToken`, which it
 * cannot be combined with): a spawned CLI on stdio or on TCP, or a running server by URL.
 */
const RuntimeConnection = Object.freeze({
  /** Spawns the CLI (`path`, else the usual lookup) with `args` and talks over its stdio. */
  forStdio(opts) {
    return definedFields('stdio', connectionOpts(opts, 'RuntimeConnection.forStdio'), ['path', 'args']);
  },
  /** Spawns the CLI listening on TCP `port` (0 or none: any free port) with `connectionToken` (else a random one). */
  forTcp(opts) {
    return definedFields('tcp', connectionOpts(opts, 'RuntimeConnection.forTcp'), ['port', 'connectionToken', 'path', 'args']);
  },
  /** Connects to a running server: `"port"`, `"host:port"` or `"http://host:port"`. */
  forUri(url, opts) {
    if (typeof url !== 'string' || url === '') throw invalid('RuntimeConnection.forUri needs a URL string');
    return definedFields('uri', { ...connectionOpts(opts, 'RuntimeConnection.forUri'), url }, ['url', 'connectionToken']);
  },
});

class CopilotClient {
  #native;
  /** Open sessions (held so that their handlers and listeners stay reachable). */
  #sessions = new Set();
  /** Lifecycle listeners by the addon's subscription id. */
  #lifecycle = new Map();
  /** Background reapers (stopped by stop()). */
  #reapers = new Set();
  #rpc;
  #traceProvider = null;

  /** @internal The client's `onGetTraceContext` (null: the active OpenTelemetry context, if any). */
  get _traceProvider() {
    return this.#traceProvider;
  }

  /**
   * Options in camelCase (snake_case works too): `cliUrl` to connect to a running server, or
   * `cliPath`, `cliArgs`, `useStdio`, `port`, `env`, `cwd`, `logLevel`, `githubToken`,
   * `useLoggedInUser`, `autoStart`, … to spawn one; or `connection` (a RuntimeConnection)
   * instead of those. `onLifecycle`: a lifecycle listener subscribed at once (as `on(fn)`).
   * Invalid options throw a CopilotError at once.
   */
  constructor(options) {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('client options must be an object');
    const { onLifecycle, on_lifecycle: onLifecycleSnake, onGetTraceContext, ...o } = options || {};
    if (onLifecycle !== undefined && onLifecycleSnake !== undefined) {
      throw invalid('client option `onLifecycle` is given twice (camelCase and snake_case)');
    }
    if (onGetTraceContext !== undefined && onGetTraceContext !== null && typeof onGetTraceContext !== 'function') {
      throw invalid('client option `onGetTraceContext` must be a function');
    }
    this.#traceProvider = onGetTraceContext ?? null;
    // The official default mode's name: the core's default.
    if (o.mode === 'copilot-cli') delete o.mode;
    const lifecycle = onLifecycle ?? onLifecycleSnake;
    if (lifecycle !== undefined && typeof lifecycle !== 'function') throw invalid('client option `onLifecycle` must be a function');
    if (o.env && typeof o.env === 'object') {
      o.env = Object.fromEntries(Object.entries(o.env).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]));
    }
    try {
      this.#native = new native.NativeClient(enc(o, 'client options'));
    } catch (e) {
      throw fromNative(e);
    }
    if (lifecycle !== undefined) this.on(lifecycle);
  }

  /** Spawns or connects to the CLI and performs the handshake. Idempotent. */
  start() {
    return call(() => this.#native.start());
  }

  /**
   * Stops: detaches the sessions this client opened, shuts down a CLI it spawned, closes the
   * connection. Resolves to the errors met on the way (empty when clean); never rejects.
   * Afterwards nothing of this client keeps Node's event loop alive.
   */
  stop() {
    return stopOwner(this.#native, this.#reapers, this.#sessions);
  }

  /**
   * `await using client = new CopilotClient(…)`: stop() at the end of the scope (its errors are
   * dropped, as stop() never rejects).
   */
  async [ASYNC_DISPOSE]() {
    await this.stop();
  }

  /** Stops at once: no RPCs; a spawned CLI is killed. */
  async forceStop() {
    for (const s of this.#sessions) s._stopped();
    this.#sessions.clear();
    await call(() => this.#native.forceStop());
  }

  /** `"connected"` (started and not stopped) or `"disconnected"`. */
  getState() {
    return this.#native.connected ? 'connected' : 'disconnected';
  }

  async ping(message) {
    return checked('PingResult', await callJson(() => this.#native.ping(message ?? null)), 'ping');
  }

  /** CLI version and protocol version. */
  getStatus() {
    return callJson(() => this.#native.getStatus());
  }

  /** Whether the CLI is authenticated, and how (`SessionAuthStatus` of the schema). */
  async getAuthStatus() {
    return checked('SessionAuthStatus', await callJson(() => this.#native.getAuthStatus()), 'getAuthStatus');
  }

  /** Models available to the CLI (needs GitHub authentication on the CLI): `Model` of the schema. */
  async listModels() {
    const models = await callJson(() => this.#native.listModels());
    if (strict !== null && Array.isArray(models)) models.forEach((m, i) => strict.value('Model', m, `listModels[${i}]`));
    return models;
  }

  /** Creates a session; handlers and `onEvent` are in place before the first event. */
  async createSession(config) {
    return this.#open(config, undefined);
  }

  /** Resumes a session by id; `config` is optional (handlers and provider are re-sent if given). */
  async resumeSession(sessionId, config) {
    checkResumeId(sessionId);
    return this.#open({ ...(config || {}), sessionId: undefined }, sessionId);
  }

  #open(config, resumeId) {
    return openSession(this, this.#native, this.#sessions, config, resumeId);
  }

  /** @internal */
  _forget(s) {
    this.#sessions.delete(s);
  }

  /**
   * Sessions stored by the CLI: `{sessionId, startTime, modifiedTime, createdAt (= startTime),
   * summary?, isRemote, context?}` with Date values. `filter`: `{cwd, gitRoot, repository, branch}`.
   */
  listSessions(filter) {
    return listSessionsOf(this.#native, filter);
  }

  /**
   * The stored session's metadata (as a `listSessions` entry, Date values), or undefined when
   * the CLI has no session of that id.
   */
  async getSessionMetadata(sessionId) {
    if (typeof sessionId !== 'string' || sessionId === '') throw invalid('getSessionMetadata needs a session id string');
    const m = await callJson(() => this.#native.getSessionMetadata(sessionId));
    if (m === null || m === undefined) return undefined;
    if (strict !== null) strict.value('LocalSessionMetadataValue', m, 'getSessionMetadata');
    return toMetadata(m);
  }

  /** Deletes a session from disk; rejects with `session_not_found` when it does not exist. */
  deleteSession(sessionId) {
    return call(() => this.#native.deleteSession(sessionId));
  }

  async getLastSessionId() {
    return (await call(() => this.#native.getLastSessionId())) ?? undefined;
  }

  async getForegroundSessionId() {
    return (await call(() => this.#native.getForegroundSessionId())) ?? undefined;
  }

  setForegroundSessionId(sessionId) {
    return call(() => this.#native.setForegroundSessionId(sessionId));
  }

  /**
   * Any server method by name (for methods newer than the schema). `options.timeout`: this
   * call's deadline in ms instead of `requestTimeout` (0 or Infinity: none).
   */
  call(method, params, options) {
    return callJson(() => this.#native.rpc(method, params === undefined ? null : enc(params, 'rpc params'), rpcTimeout(options)));
  }

  /**
   * The typed server methods of the schema (`client.rpc.models.getBuiltInCatalog()`), on a
   * function that is the generic call too (`client.rpc(method, params, options)`, as `call`).
   */
  get rpc() {
    if (this.#rpc === undefined) this.#rpc = typedRpc((m, p, o) => this.call(m, p, o), protocol.SERVER_METHODS);
    return this.#rpc;
  }

  /**
   * Lifecycle notifications: the sessions' (`session.created`, `session.deleted`, …) and the
   * connection's (`connection.lost`, `connection.reconnecting`, `connection.restored`,
   * `connection.gave_up`, details in `metadata`): `on(fn)`, `on(type, fn)` or `on([types], fn)`
   * (filtered by the core), from now on (also before start and across restarts). Returns a
   * function that unsubscribes.
   */
  on(typeOrFn, maybeFn) {
    const all = typeof typeOrFn === 'function';
    const listener = all ? typeOrFn : maybeFn;
    if (typeof listener !== 'function') throw invalid('client.on needs a function');
    // As for sessions: the addon's callback holds the client weakly.
    const ref = new WeakRef(this);
    const types = all ? null : Array.isArray(typeOrFn) ? typeOrFn : [typeOrFn];
    let id;
    try {
      id = this.#native.onLifecycle(types, (text) => {
        const c = ref.deref();
        if (c !== undefined) c.#emitLifecycle(id, text);
      });
    } catch (e) {
      throw fromNative(e);
    }
    this.#lifecycle.set(id, listener);
    return () => {
      if (this.#lifecycle.delete(id)) this.#native.offLifecycle(id);
    };
  }

  /** Same as on() (today's official name): `onLifecycle(fn)`, `onLifecycle(type, fn)`, `onLifecycle([types], fn)`. */
  onLifecycle(typeOrFn, maybeFn) {
    return this.on(typeOrFn, maybeFn);
  }

  #emitLifecycle(id, text) {
    const l = this.#lifecycle.get(id);
    if (l === undefined) return;
    try {
      l(JSON.parse(text));
    } catch (e) {
      warn('a lifecycle listener threw', e);
    }
  }

  /**
   * Deletes stored sessions started more than `maxAge` seconds ago or unchanged for `maxIdle`
   * seconds (at least one of them); never one open on this client unless `includeOpen` (it is
   * disconnected first). Resolves to the deleted sessions' metadata.
   */
  async cleanupSessions(options) {
    const { json } = cleanupJson(options, 'cleanupSessions');
    return (await callJson(() => this.#native.cleanupSessions(json))).map(toMetadata);
  }

  /**
   * Runs cleanupSessions every `intervalSeconds` until `stop()` on the returned handle (or
   * this client's stop()). Each sweep that deleted something or failed is a `reaper.swept`
   * lifecycle event (`metadata: {deleted: [ids]}` or `{error, code}`), and reaches
   * `options.onSweep` as `{deleted: string[]}` or `{error: CopilotError}`. A reaper never keeps
   * Node alive.
   */
  startReaper(intervalSeconds, options) {
    const { json, onSweep } = cleanupJson(options, 'startReaper');
    let nat;
    try {
      nat = this.#native.startReaper(reaperInterval(intervalSeconds), json);
    } catch (e) {
      throw fromNative(e);
    }
    let off = () => {};
    if (onSweep) {
      off = this.on('reaper.swept', (ev) => {
        const m = ev.metadata || {};
        onSweep(m.error !== undefined ? { deleted: [], error: new CopilotError(m.error, { code: m.code }) } : { deleted: m.deleted || [] });
      });
    }
    const handle = reaperHandle(nat, () => {
      off();
      this.#reapers.delete(handle);
    });
    this.#reapers.add(handle);
    return handle;
  }

  /**
   * This client's counters: `{calls, errors: {code: n}, reconnects, connectionLosses,
   * failoversIn, failoversOut, openSessions, turns: {count, sumSeconds, buckets: [{le, count}]}}`.
   */
  metrics() {
    return JSON.parse(this.#native.metrics());
  }

  /** The same counters in the Prometheus text format (`copilot_calls_total{server="…"}`, …). */
  metricsPrometheus() {
    return this.#native.metricsPrometheus();
  }

  /** TCP port of the server (spawned on TCP or connected by URL). */
  get port() {
    return this.#native.port ?? undefined;
  }

  /** Process id of a CLI this client spawned. */
  get cliPid() {
    return this.#native.cliPid ?? undefined;
  }

  get protocolVersion() {
    return this.#native.protocolVersion ?? undefined;
  }

  /** CLI version reported by the handshake. */
  get serverVersion() {
    return this.#native.serverVersion ?? undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Pool.

/**
 * Several CLI servers as one: each session is placed by rendezvous hashing of its id over the
 * healthy servers, fails over to the next server of its ranking (the servers must share their
 * state directory), and, with `lease`, is leased in Redis so that two instances never drive it
 * at once.
 */
class CopilotPool {
  #native;
  /** Open sessions (held so that their handlers and listeners stay reachable). */
  #sessions = new Set();
  /** Background reapers (stopped by stop()). */
  #reapers = new Set();

  /**
   * `urls` (array, or one comma-separated string; every instance must list the same servers,
   * spelled alike), `healthInterval` (s), `lease: {redisUrl, ttl, wait, owner, keyPrefix}`
   * (s), and any client option for each server (`requestTimeout`, `reconnect`,
   * `connectionToken`, `heartbeatInterval`, …). Invalid options throw `invalid_config` at once.
   */
  constructor(options) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw invalid('pool options must be an object ({urls, lease, ...})');
    }
    try {
      this.#native = new native.NativePool(enc(options, 'pool options'));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Connects to every server; resolves when at least one answers (the others are retried in
   * the background), rejects with `no_server` when none does. Also done on first use (not
   * after stop(): a stopped pool starts again only by start()).
   */
  start() {
    return call(() => this.#native.start());
  }

  /**
   * Releases every lease, detaches every session, stops the reapers and every server's
   * client. Resolves to the errors met (empty when clean); never rejects. Nothing of the
   * pool keeps Node alive afterwards; calls fail with `not_connected` until `start()`.
   */
  stop() {
    return stopOwner(this.#native, this.#reapers, this.#sessions);
  }

  /** `await using pool = new CopilotPool(…)`: stop() at the end of the scope. */
  async [ASYNC_DISPOSE]() {
    await this.stop();
  }

  /**
   * Creates a session on the first healthy server of its ranking, taking its lease first when
   * leases are on (`lease_held` after `lease.wait`).
   */
  createSession(config) {
    return openSession(this, this.#native, this.#sessions, config, undefined);
  }

  /**
   * Resumes a session on its server (lease first, as createSession). A server that does not
   * share the state directory answers `session_not_found`.
   */
  async resumeSession(sessionId, config) {
    checkResumeId(sessionId);
    return openSession(this, this.#native, this.#sessions, { ...(config || {}), sessionId: undefined }, sessionId);
  }

  /** @internal */
  _forget(s) {
    this.#sessions.delete(s);
  }

  /** Sessions stored by the servers, each once (as CopilotClient.listSessions). */
  listSessions(filter) {
    return listSessionsOf(this.#native, filter);
  }

  /** Deletes a session from disk (its lease, if this pool holds it, is released). */
  deleteSession(sessionId) {
    return call(() => this.#native.deleteSession(sessionId));
  }

  /**
   * Stops placing sessions on `url`; its open sessions move at their next prompt (rolling
   * restart: drain, wait until servers() shows 0 open there, restart, undrain).
   */
  drain(url) {
    try {
      this.#native.drain(url);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Places sessions on `url` again. */
  undrain(url) {
    try {
      this.#native.undrain(url);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Every server's state: `[{url, healthy, draining, openSessions}]`. */
  servers() {
    return JSON.parse(this.#native.servers());
  }

  /** The servers ranked for a session id (first: where it is placed when all are healthy). */
  ranking(sessionId) {
    try {
      return this.#native.ranking(sessionId);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Where a session would be placed now (undefined: no server is usable). */
  serverFor(sessionId) {
    try {
      return this.#native.serverFor(sessionId) ?? undefined;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** The pool's servers, in the order given. */
  get urls() {
    return this.#native.urls();
  }

  /**
   * As CopilotClient.cleanupSessions, across the pool: never a session open on this pool unless
   * `includeOpen`, never one whose lease another instance holds.
   */
  async cleanupSessions(options) {
    const { json } = cleanupJson(options, 'cleanupSessions');
    return (await callJson(() => this.#native.cleanupSessions(json))).map(toMetadata);
  }

  /**
   * Runs cleanupSessions every `intervalSeconds` until `stop()` on the returned handle (or the
   * pool's stop()). `options.onSweep` gets `{deleted: string[]}` or `{error: CopilotError}` after
   * each sweep that deleted something or failed. A reaper never keeps Node alive.
   */
  startReaper(intervalSeconds, options) {
    const { json, onSweep } = cleanupJson(options, 'startReaper');
    let sink = null;
    if (onSweep) {
      sink = (text) => {
        let r;
        try {
          r = JSON.parse(text);
        } catch (e) {
          warn('unreadable reaper result from the addon', e);
          return;
        }
        const out = r.error !== undefined ? { deleted: [], error: errorFromInfo(r.error) } : { deleted: (r.deleted || []).map((m) => m.sessionId) };
        if (out.error === undefined && out.deleted.length === 0) return;
        try {
          onSweep(out);
        } catch (e) {
          warn('a reaper onSweep callback threw', e);
        }
      };
    }
    let nat;
    try {
      nat = this.#native.startReaper(reaperInterval(intervalSeconds), json, sink);
    } catch (e) {
      throw fromNative(e);
    }
    const handle = reaperHandle(nat, () => this.#reapers.delete(handle));
    this.#reapers.add(handle);
    return handle;
  }

  /**
   * Counters: `{servers: [{url, healthy, draining, calls, errors, reconnects, …}], failovers,
   * leasesAcquired, leasesLost, leaseWaits, reaped, placementErrors, openSessions, healthyServers}`.
   */
  metrics() {
    return JSON.parse(this.#native.metrics());
  }

  /** The same counters in the Prometheus text format (per server `{server="…"}`, and pool-wide). */
  metricsPrometheus() {
    return this.#native.metricsPrometheus();
  }
}

// ---------------------------------------------------------------------------------------------
// Logging.

const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'];

/**
 * Routes the core's log records (reconnects, failovers, lease renewals, reaper sweeps, …) to
 * `handler(level, target, message, fields)` for `level` and above (default `info`); `null`
 * stops. One handler per process; by default nothing is logged. The handler never keeps Node
 * alive, and what it throws is reported as a warning.
 */
function setLogHandler(handler, options) {
  if (handler !== null && handler !== undefined && typeof handler !== 'function') throw invalid('setLogHandler needs a function or null');
  const level = typeof options === 'string' ? options : options && options.level;
  if (level !== undefined && level !== null && !LOG_LEVELS.includes(level)) {
    throw invalid(`log level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  let sink = null;
  if (handler) {
    sink = (text) => {
      let r;
      try {
        r = JSON.parse(text);
      } catch {
        return;
      }
      try {
        handler(r[0], r[1], r[2], r[3]);
      } catch (e) {
        warn('the log handler threw', e);
      }
    };
  }
  try {
    native.setLogHandler(sink, level ?? null);
  } catch (e) {
    throw fromNative(e);
  }
}

/** The Copilot CLI version this package is tested with. */
const PINNED_CLI_VERSION = native.pinnedCliVersion();

/**
 * Strict type checking (tests): `enabled` under COPILOT_STRICT_TYPES=1; `report()` the counters
 * of this process (undefined when off); `checker()` a fresh checker (loads the type table).
 */
const strictTypes = {
  get enabled() {
    return strict !== null;
  },
  report() {
    return strict === null ? undefined : strict.report();
  },
  checker() {
    return require('./strict.js').createChecker();
  },
  summaryLine(report) {
    return require('./strict.js').summaryLine(report);
  },
};

module.exports = {
  CopilotClient,
  CopilotPool,
  CopilotSession,
  setLogHandler,
  CopilotError,
  ErrorCodes,
  ErrorNumbers,
  approveAll,
  defineTool,
  RuntimeConnection,
  PINNED_CLI_VERSION,
  SESSION_EVENT_TYPES: protocol.SESSION_EVENT_TYPES,
  HOOK_TYPES: protocol.HOOK_TYPES,
  strictTypes,
};
