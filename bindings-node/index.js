'use strict';
// @copilot-hub/node: the public API over the native addon (native.js). CommonJS; index.mjs
// re-exports it for `import`. Types: index.d.ts.

const native = require('./native.js');
const { ErrorCodes, ErrorNumbers } = require('./error-codes.js');

const ERROR_MARK = 'COPILOT_ERROR:';

// ---------------------------------------------------------------------------------------------
// Keeping the event loop alive only while someone waits.
//
// The addon's thread-safe functions are weak: an open client, a session or an event listener
// never keeps Node running by itself. While a Promise of this package is pending on a
// completion that arrives through them (sendAndWait, an iterator's next()), one ref'd timer
// holds the loop open; it is cleared as soon as nothing waits.

let holds = 0;
let holdTimer = null;
function hold() {
  if (holds++ === 0) holdTimer = setInterval(() => {}, 0x7fffffff);
}
function release() {
  if (holds > 0 && --holds === 0) {
    clearInterval(holdTimer);
    holdTimer = null;
  }
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
      const info = JSON.parse(msg.slice(at + ERROR_MARK.length));
      const err = errorFromInfo(info);
      return err;
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

function invalid(message) {
  return new CopilotError(message, { code: ErrorCodes.INVALID_CONFIG });
}

/** A JSON-safe copy (functions and undefined dropped); throws on cycles and BigInt. */
function toJson(v) {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v));
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

function cap(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

function errorInfo(e) {
  if (e instanceof Error) return { message: e.message || String(e), name: e.name, code: e.code ?? null };
  return { message: typeof e === 'string' ? e : (() => { try { return JSON.stringify(e); } catch { return String(e); } })() };
}

// ---------------------------------------------------------------------------------------------
// Session.

let nextWaitId = 1;

function abortError(signal) {
  const reason = signal && signal.reason;
  const text = reason instanceof Error ? reason.message : reason !== undefined ? String(reason) : 'aborted';
  return new CopilotError(`sendAndWait was aborted: ${text}`, { code: ErrorCodes.CANCELLED, cause: reason });
}

class CopilotSession {
  #native = null;
  #client;
  #listeners = new Set();
  #waits = new Map();
  #closed = false;
  #tools = new Map();
  #handlers = {};
  #sessionId;

  /** @internal */
  constructor(client, sessionId) {
    this.#client = client;
    this.#sessionId = sessionId;
    this._sink = (msg) => this.#onNative(msg);
  }

  /** @internal Splits a session config into wire JSON and the JS handlers it carries. */
  _prepare(config) {
    const c = { ...(config || {}) };
    if (config && typeof config !== 'object') throw invalid('session config must be an object');
    const flags = { tools: [] };
    const wire = {};
    for (const [k, v] of Object.entries(c)) {
      if (v === undefined) continue;
      switch (k) {
        case 'tools': {
          if (!Array.isArray(v)) throw invalid('session option `tools` must be an array');
          wire.tools = v.map((t) => {
            if (!t || typeof t.name !== 'string') throw invalid('every tool needs a `name` string');
            const { handler, parameters, ...rest } = t;
            const decl = { ...rest };
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
              flags.tools.push(t.name);
            }
            return decl;
          });
          break;
        }
        case 'onPermissionRequest':
          this.#handlers.permission = fn(k, v);
          flags.permission = true;
          break;
        case 'onUserInputRequest':
          this.#handlers.userInput = fn(k, v);
          flags.userInput = true;
          break;
        case 'hooks':
          if (typeof v !== 'object' || v === null) throw invalid('session option `hooks` must be an object of functions');
          this.#handlers.hooks = v;
          flags.hooks = true;
          break;
        case 'onExitPlanMode':
          this.#handlers.exitPlanMode = fn(k, v);
          flags.exitPlanMode = true;
          break;
        case 'onProviderToken':
          this.#handlers.providerToken = fn(k, v);
          flags.providerToken = true;
          break;
        case 'onEvent':
          this.on(fn(k, v));
          break;
        case 'systemMessage': {
          const sections = v && typeof v === 'object' ? v.sections : undefined;
          const transforms = {};
          if (sections && typeof sections === 'object') {
            const copy = {};
            for (const [name, sec] of Object.entries(sections)) {
              if (sec && typeof sec.action === 'function') {
                transforms[name] = sec.action;
                copy[name] = { ...sec, action: 'transform' };
              } else {
                copy[name] = sec;
              }
            }
            wire.systemMessage = { ...v, sections: copy };
          } else {
            wire.systemMessage = v;
          }
          if (Object.keys(transforms).length > 0) {
            this.#handlers.transforms = transforms;
            flags.systemMessageTransform = true;
          }
          break;
        }
        default:
          if (typeof v === 'function') throw invalid(`session option \`${k}\` cannot be a function`);
          wire[k] = v;
      }
    }
    if (wire.sessionId === undefined && this.#sessionId !== undefined) wire.sessionId = this.#sessionId;
    return { wire: toJson(wire), flags };
  }

  /** @internal */
  _attach(nat) {
    this.#native = nat;
    this.#sessionId = nat.sessionId;
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
    return this.#native.info;
  }

  #onNative(msg) {
    try {
      switch (msg.k) {
        case 'event':
          this.#emit(msg.event);
          break;
        case 'call':
          this.#serve(msg);
          break;
        case 'done': {
          const w = this.#waits.get(msg.id);
          if (!w) return;
          this.#waits.delete(msg.id);
          w.cleanup();
          if (msg.ok) w.resolve(msg.value ?? undefined);
          else w.reject(errorFromInfo(msg.error, w.cause));
          break;
        }
        case 'closed':
          this.#closed = true;
          for (const l of [...this.#listeners]) if (l.close) l.close();
          break;
        default:
      }
    } catch (e) {
      process.emitWarning(`@copilot-hub/node: internal dispatch error: ${e && e.stack}`);
    }
  }

  #emit(event) {
    for (const l of [...this.#listeners]) {
      if (l.type !== undefined && l.type !== event.type) continue;
      try {
        l.fn(event);
      } catch (e) {
        process.emitWarning(`@copilot-hub/node: a session event listener threw: ${e && e.stack ? e.stack : e}`);
      }
    }
  }

  #serve(msg) {
    const invocation = { sessionId: this.#sessionId };
    const run = () => {
      const p = msg.payload || {};
      switch (msg.kind) {
        case 'tool': {
          const t = this.#tools.get(msg.name);
          if (!t) throw new Error(`no handler for tool ${msg.name}`);
          let args = p.arguments ?? {};
          if (t.schema) {
            const r = t.schema.safeParse(args);
            if (!r.success) throw new Error(`invalid arguments for tool ${msg.name}: ${r.error.message}`);
            args = r.data;
          }
          return t.handler(args, {
            sessionId: p.sessionId,
            toolCallId: p.toolCallId,
            toolName: p.toolName,
            arguments: p.arguments,
            workingDirectory: p.workingDirectory ?? undefined,
          });
        }
        case 'permission':
          return this.#handlers.permission(p.request, { ...invocation, requestId: p.requestId });
        case 'userInput':
          return this.#handlers.userInput(
            { question: p.question, choices: p.choices, allowFreeform: p.allowFreeform },
            invocation,
          );
        case 'hook': {
          const hooks = this.#handlers.hooks;
          const named = hooks['on' + cap(p.hookType)];
          if (typeof named === 'function') return named(p.input, { ...invocation, hookType: p.hookType });
          if (typeof hooks.onHook === 'function') return hooks.onHook(p.hookType, p.input, invocation);
          return null;
        }
        case 'systemMessageTransform':
          return (async () => {
            const sections = { ...(p.sections || {}) };
            for (const [name, f] of Object.entries(this.#handlers.transforms)) {
              const sec = sections[name];
              if (!sec) continue;
              const content = await f(sec.content ?? '', { ...invocation, section: name });
              if (typeof content === 'string') sections[name] = { ...sec, content };
            }
            return { sections };
          })();
        case 'exitPlanMode':
          return this.#handlers.exitPlanMode(p, invocation);
        case 'providerToken':
          return this.#handlers.providerToken(p, invocation);
        default:
          throw new Error(`unknown handler kind ${msg.kind}`);
      }
    };
    Promise.resolve()
      .then(run)
      .then(
        (v) => {
          try {
            native.reply(msg.id, true, toJson(v));
          } catch (e) {
            native.reply(msg.id, false, { message: `the ${msg.kind} handler returned a value that is not JSON: ${e.message}` });
          }
        },
        (e) => native.reply(msg.id, false, errorInfo(e)),
      )
      .catch((e) => process.emitWarning(`@copilot-hub/node: could not answer a ${msg.kind} call: ${e}`));
  }

  /**
   * Listens to events: `on(fn)` for all, `on(type, fn)` for one type. Returns a function that
   * unsubscribes.
   */
  on(typeOrFn, maybeFn) {
    const l = typeof typeOrFn === 'function' ? { fn: typeOrFn } : { type: typeOrFn, fn: maybeFn };
    if (typeof l.fn !== 'function') throw invalid('session.on needs a function');
    this.#listeners.add(l);
    return () => {
      this.#listeners.delete(l);
    };
  }

  /**
   * Events as an async iterator (optionally of one type), from now until the session is
   * disconnected or the iterator is closed (`break`).
   */
  events(type) {
    const queue = [];
    let waiter = null;
    let done = false;
    const finish = () => {
      done = true;
      this.#listeners.delete(l);
      if (waiter) {
        const w = waiter;
        waiter = null;
        release();
        w({ value: undefined, done: true });
      }
    };
    const l = {
      type,
      fn: (ev) => {
        if (waiter) {
          const w = waiter;
          waiter = null;
          release();
          w({ value: ev, done: false });
        } else {
          queue.push(ev);
        }
      },
      close: () => {
        // Deliver what is queued, then end.
        done = true;
        this.#listeners.delete(l);
        if (waiter) finish();
      },
    };
    if (this.#closed) done = true;
    else this.#listeners.add(l);
    return {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift(), done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        hold();
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

  #nat() {
    if (!this.#native) throw new CopilotError('the session is not open yet', { code: ErrorCodes.NOT_CONNECTED });
    return this.#native;
  }

  /** Queues a prompt; resolves to the message id once the CLI accepted it. */
  send(options) {
    const { signal: _s, ...msg } = typeof options === 'string' ? { prompt: options } : options || {};
    return call(() => this.#nat().send(toJson(msg)));
  }

  /**
   * Sends a prompt and waits until the session is idle. Resolves to the last
   * `assistant.message` of the turn (or undefined). Rejects with `session_error` when the turn
   * failed, `timeout` after `timeout` ms (default 60000; the turn keeps running), and
   * `cancelled` when `signal` aborts (the turn is aborted too). Every event of the turn has
   * reached the listeners before it settles.
   */
  sendAndWait(options, timeoutOrOptions) {
    const opts = typeof options === 'string' ? { prompt: options } : { ...(options || {}) };
    let signal = opts.signal;
    delete opts.signal;
    let timeout;
    if (typeof timeoutOrOptions === 'number') timeout = timeoutOrOptions;
    else if (timeoutOrOptions && typeof timeoutOrOptions === 'object') {
      timeout = timeoutOrOptions.timeout;
      signal = timeoutOrOptions.signal ?? signal;
    }
    if (timeout !== undefined) {
      if (typeof timeout !== 'number' || !(timeout >= 0)) return Promise.reject(invalid('timeout must be a number of milliseconds'));
      opts.timeout = timeout / 1000;
    }
    if (signal && signal.aborted) return Promise.reject(abortError(signal));
    let nat;
    let wire;
    try {
      nat = this.#nat();
      wire = toJson(opts);
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
    return new Promise((resolve, reject) => {
      const id = nextWaitId++;
      let onAbort = null;
      const w = {
        resolve,
        reject,
        cause: undefined,
        cleanup: () => {
          release();
          if (onAbort) signal.removeEventListener('abort', onAbort);
        },
      };
      hold();
      this.#waits.set(id, w);
      try {
        nat.sendAndWait(id, wire);
      } catch (e) {
        this.#waits.delete(id);
        w.cleanup();
        reject(fromNative(e));
        return;
      }
      if (signal) {
        onAbort = () => {
          const err = abortError(signal);
          w.cause = signal.reason;
          nat.cancelWait(id, err.message);
          nat.abort().catch(() => {});
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Aborts the running turn (fine when idle). */
  abort() {
    return call(() => this.#nat().abort());
  }

  /** The persisted events of the session (no ephemeral ones). */
  getMessages() {
    return call(() => this.#nat().getMessages());
  }

  /** Switches the model: `setModel("gpt-5")` or `setModel("gpt-5", {reasoningEffort: "high"})`. */
  setModel(model, options) {
    const effort = typeof options === 'string' ? options : options && options.reasoningEffort;
    return call(() => this.#nat().setModel(model, effort ?? null));
  }

  /** Any session-scoped method; `sessionId` is added to `params`. */
  rpc(method, params) {
    return call(() => this.#nat().rpc(method, params === undefined ? null : toJson(params)));
  }

  /** Detaches from the session; it stays on disk and can be resumed. Idempotent. */
  async disconnect() {
    await call(() => this.#nat().disconnect());
    this.#client._forget(this);
  }

  /** Same as disconnect() (the guide's name). */
  destroy() {
    return this.disconnect();
  }
}

function fn(name, v) {
  if (typeof v !== 'function') throw invalid(`session option \`${name}\` must be a function`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Client.

function toDate(s) {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

class CopilotClient {
  #native;
  #state = 'new';
  #autoStart;
  #lifecycle = new Set();
  #lifecycleSubscribed = false;
  #sessions = new Set();

  /**
   * Options in camelCase (snake_case works too): `cliUrl` to connect to a running server, or
   * `cliPath`, `cliArgs`, `useStdio`, `port`, `env`, `cwd`, `logLevel`, `githubToken`,
   * `useLoggedInUser`, … to spawn one. Invalid options throw a CopilotError at once.
   */
  constructor(options) {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('client options must be an object');
    const { autoStart = true, ...rest } = options || {};
    this.#autoStart = Boolean(autoStart);
    if (rest.env && typeof rest.env === 'object') {
      rest.env = Object.fromEntries(Object.entries(rest.env).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]));
    }
    // With `cliUrl`, the core makes `githubToken` the per-session GitHub identity of every
    // session this client opens (the server owns its own login).
    try {
      this.#native = new native.NativeClient(toJson(rest));
    } catch (e) {
      throw fromNative(e);
    }
  }

  async #ready() {
    if (this.#state === 'new' && this.#autoStart) await this.start();
  }

  /** Spawns or connects to the CLI and performs the handshake. Idempotent. */
  async start() {
    await call(() => this.#native.start());
    this.#state = 'connected';
    this.#subscribeLifecycle();
  }

  /**
   * Stops: detaches the sessions this client opened, shuts down a CLI it spawned, closes the
   * connection. Resolves to the errors met on the way (empty when clean); never rejects.
   * Afterwards nothing of this client keeps Node's event loop alive.
   */
  async stop() {
    this.#state = 'stopped';
    try {
      await call(() => this.#native.stop());
      return [];
    } catch (e) {
      return [e];
    } finally {
      this.#sessions.clear();
      this.#lifecycleSubscribed = false;
    }
  }

  /** Stops at once: no RPCs; a spawned CLI is killed. */
  async forceStop() {
    this.#state = 'stopped';
    this.#sessions.clear();
    this.#lifecycleSubscribed = false;
    await call(() => this.#native.forceStop());
  }

  /** `"disconnected"` (new or stopped) or `"connected"`. */
  getState() {
    return this.#state === 'connected' ? 'connected' : 'disconnected';
  }

  async ping(message) {
    await this.#ready();
    return call(() => this.#native.ping(message ?? null));
  }

  /** CLI version and protocol version. */
  async getStatus() {
    await this.#ready();
    return call(() => this.#native.getStatus());
  }

  async getAuthStatus() {
    await this.#ready();
    return call(() => this.#native.getAuthStatus());
  }

  /** Models available to the CLI (needs GitHub authentication on the CLI). */
  async listModels() {
    await this.#ready();
    return call(() => this.#native.listModels());
  }

  /** Creates a session; handlers and `onEvent` are in place before the first event. */
  async createSession(config) {
    await this.#ready();
    const s = new CopilotSession(this, config && config.sessionId);
    const { wire, flags } = s._prepare(config);
    s._attach(await call(() => this.#native.createSession(wire, flags, s._sink)));
    this.#sessions.add(s);
    return s;
  }

  /** Resumes a session by id; `config` is optional (handlers and provider are re-sent if given). */
  async resumeSession(sessionId, config) {
    if (typeof sessionId !== 'string' || sessionId === '') throw invalid('resumeSession needs a session id string');
    await this.#ready();
    const s = new CopilotSession(this, sessionId);
    const { wire, flags } = s._prepare({ ...(config || {}), sessionId: undefined });
    delete wire.sessionId;
    s._attach(await call(() => this.#native.resumeSession(sessionId, wire, flags, s._sink)));
    this.#sessions.add(s);
    return s;
  }

  /** @internal */
  _forget(s) {
    this.#sessions.delete(s);
  }

  /**
   * Sessions stored by the CLI: `{sessionId, startTime, modifiedTime, createdAt (= startTime),
   * summary?, isRemote, context?}` with Date values. `filter`: `{cwd, gitRoot, repository, branch}`.
   */
  async listSessions(filter) {
    await this.#ready();
    const list = await call(() => this.#native.listSessions(filter === undefined ? null : toJson(filter)));
    return list.map((m) => ({
      ...m,
      startTime: toDate(m.startTime),
      modifiedTime: toDate(m.modifiedTime),
      createdAt: toDate(m.createdAt || m.startTime),
    }));
  }

  /** Deletes a session from disk; rejects with `session_not_found` when it does not exist. */
  async deleteSession(sessionId) {
    await this.#ready();
    return call(() => this.#native.deleteSession(sessionId));
  }

  async getLastSessionId() {
    await this.#ready();
    return (await call(() => this.#native.getLastSessionId())) ?? undefined;
  }

  async getForegroundSessionId() {
    await this.#ready();
    return (await call(() => this.#native.getForegroundSessionId())) ?? undefined;
  }

  async setForegroundSessionId(sessionId) {
    await this.#ready();
    return call(() => this.#native.setForegroundSessionId(sessionId));
  }

  /** Any server method by name (the escape hatch). */
  async rpc(method, params) {
    await this.#ready();
    return call(() => this.#native.rpc(method, params === undefined ? null : toJson(params)));
  }

  /**
   * Session lifecycle notifications (`session.created`, `session.deleted`, …): `on(fn)` or
   * `on(type, fn)`. Returns a function that unsubscribes. Listens from the next start on if the
   * client is not started yet.
   */
  on(typeOrFn, maybeFn) {
    const l = typeof typeOrFn === 'function' ? { fn: typeOrFn } : { type: typeOrFn, fn: maybeFn };
    if (typeof l.fn !== 'function') throw invalid('client.on needs a function');
    this.#lifecycle.add(l);
    this.#subscribeLifecycle();
    return () => {
      this.#lifecycle.delete(l);
    };
  }

  #subscribeLifecycle() {
    if (this.#lifecycleSubscribed || this.#lifecycle.size === 0 || this.#state !== 'connected') return;
    try {
      this.#native.subscribeLifecycle((ev) => {
        for (const l of [...this.#lifecycle]) {
          if (l.type !== undefined && l.type !== ev.type) continue;
          try {
            l.fn(ev);
          } catch (e) {
            process.emitWarning(`@copilot-hub/node: a lifecycle listener threw: ${e && e.stack ? e.stack : e}`);
          }
        }
      });
      this.#lifecycleSubscribed = true;
    } catch {
      // Not connected (yet): subscribed on the next start.
    }
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

/** The Copilot CLI version this package is tested with. */
const PINNED_CLI_VERSION = native.pinnedCliVersion();

module.exports = {
  CopilotClient,
  CopilotSession,
  CopilotError,
  ErrorCodes,
  ErrorNumbers,
  approveAll,
  defineTool,
  PINNED_CLI_VERSION,
};
