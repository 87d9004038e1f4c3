// Types of @copilot-hub/node (handwritten; error codes come from the generated error-codes.d.ts,
// the native layer's types from the generated native.d.ts).

import type { CopilotErrorCode } from './error-codes';
import type {
  AssistantMessageEvent,
  LocalSessionMetadataValue,
  Model,
  ModelSwitchToResult,
  PingResult,
  HookTypes,
  TypedHookType,
  ServerRpc,
  SessionAuthStatus,
  SessionEvent,
  SessionEventOf,
  SessionEventType,
  SessionRpc,
} from './protocol';
export { ErrorCodes, ErrorNumbers } from './error-codes';
export type { CopilotErrorCode } from './error-codes';
// The generated protocol (types, events, RPC namespaces). A generated name that a hand-written
// export of this file also uses (`Tool`, `PermissionRequest`, `PermissionDecision`, `ToolResult`,
// `ProviderConfig`, `SessionListFilter`) is the hand-written one here; the generated one is
// `Protocol.X` (or `import type { X } from '@copilot-hub/node/protocol'`).
export * from './protocol';
export type * as Protocol from './protocol';

// `await using` (explicit resource management) needs `Symbol.asyncDispose`: declared as
// @types/node and TypeScript's esnext.disposable library declare it, for projects with neither.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The one error class of this package. Check `code` (stable), not the message. */
export declare class CopilotError extends Error {
  name: 'CopilotError';
  /** Stable code from the core's table (`"timeout"`, `"session_not_found"`, …). */
  code: CopilotErrorCode;
  /** Stable number of the code (never reused). */
  number: number;
  /** JSON-RPC error code when the server answered with an error. */
  rpcCode?: number;
  rpcMessage?: string;
  rpcData?: unknown;
  /** Last lines the spawned CLI wrote to stderr (transport failures). */
  stderr?: string;
  /** True when the connection is gone or could not be made (a new client may help). */
  isTransportFailure: boolean;
  /**
   * True when trying again may succeed: a transport failure, `timeout` or `reconnecting`
   * (the client is reconnecting on its own). `turn_outcome_unknown` is not: the turn may have
   * run; check the session's messages before sending it again.
   */
  isRetriable: boolean;
  /** The underlying error: the OS/IO error, the JSON-RPC error, or the AbortSignal's reason. */
  cause?: unknown;
}

// ---------------------------------------------------------------------------------------------
// Runtime connections (the official SDKs' `connection` option)

/** Spawn the CLI and talk over its stdin/stdout (the default without a connection). */
export interface StdioRuntimeConnection {
  readonly kind: 'stdio';
  /** CLI executable; otherwise `COPILOT_CLI_PATH`, then the installed copy, then `copilot` on PATH. */
  readonly path?: string;
  /** Arguments placed before the SDK's own. */
  readonly args?: readonly string[];
}

/** Spawn the CLI listening on a TCP port and connect to it. */
export interface TcpRuntimeConnection {
  readonly kind: 'tcp';
  /** 0 or absent: any free port. */
  readonly port?: number;
  /** Token for the `connect` handshake (a random one when absent). */
  readonly connectionToken?: string;
  readonly path?: string;
  readonly args?: readonly string[];
}

/** Connect to a running server (nothing is spawned). */
export interface UriRuntimeConnection {
  readonly kind: 'uri';
  /** `"port"`, `"host:port"` or `"http://host:port"`. */
  readonly url: string;
  readonly connectionToken?: string;
}

/** How a client reaches the CLI (client option `connection`). */
export type RuntimeConnection = StdioRuntimeConnection | TcpRuntimeConnection | UriRuntimeConnection;

/** The factories of the `connection` client option (the official SDKs' names). */
export declare const RuntimeConnection: {
  forStdio(opts?: { path?: string; args?: readonly string[] }): StdioRuntimeConnection;
  forTcp(opts?: { port?: number; connectionToken?: string; path?: string; args?: readonly string[] }): TcpRuntimeConnection;
  forUri(url: string, opts?: { connectionToken?: string }): UriRuntimeConnection;
};

// ---------------------------------------------------------------------------------------------
// Client options

export interface CopilotClientOptions {
  /**
   * How to reach the CLI (`RuntimeConnection.forStdio/forTcp/forUri`), instead of `cliUrl`,
   * `useStdio`, `port`, `cliPath`, `cliArgs` and `connectionToken`: combining them is an
   * `invalid_config` error.
   */
  connection?: RuntimeConnection;
  /** A running server: `"host:port"`, `"port"` or `"http://host:port"` (raw TCP either way). */
  cliUrl?: string;
  /** Spawn the CLI over stdio (default) or, with `false`, on a TCP port. */
  useStdio?: boolean;
  /** TCP port for a spawned CLI (0 = any free port). */
  port?: number;
  /** CLI executable; otherwise `COPILOT_CLI_PATH`, then the installed copy, then `copilot` on PATH. */
  cliPath?: string;
  /** Arguments placed before the SDK's own. */
  cliArgs?: string[];
  /** Environment of a spawned CLI (replaces the inherited one); undefined values are dropped. */
  env?: Record<string, string | undefined>;
  /** Working directory of a spawned CLI. */
  cwd?: string;
  logLevel?: 'none' | 'error' | 'warning' | 'info' | 'debug' | 'all';
  /**
   * GitHub token. For a spawned CLI it authenticates the CLI; with `cliUrl` it becomes the
   * per-session GitHub identity (`githubToken`) of every session this client opens.
   */
  githubToken?: string;
  /** Same as `githubToken` (today's official spelling); give one of the two. */
  gitHubToken?: string;
  /** A lifecycle listener subscribed when the client is made (as `client.on(listener)`). */
  onLifecycle?: (event: LifecycleEvent) => void;
  /** Let a spawned CLI use the logged-in user (default: true unless a token is given). */
  useLoggedInUser?: boolean;
  /** `--session-idle-timeout` for a spawned CLI, in seconds (0 = none). */
  sessionIdleTimeoutSeconds?: number;
  /** Token for the `connect` handshake (a spawned TCP CLI gets it, or a random one). */
  connectionToken?: string;
  /** State directory of a spawned CLI (`COPILOT_HOME`). */
  copilotHome?: string;
  /** Same as `copilotHome` (today's official name). */
  baseDirectory?: string;
  /** Same as `cwd` (today's official name). */
  workingDirectory?: string;
  /**
   * `"empty"`: the official multi-user server defaults (no keychain, every session must name
   * `availableTools`, the environment-context section of the system prompt removed, …); needs
   * `baseDirectory` or `sessionFs`. `"copilot-cli"` (or absent): the CLI's own defaults.
   */
  mode?: 'empty' | 'copilot-cli';
  /** OpenTelemetry export of a spawned CLI (`invalid_config` with a server reached by URL). */
  telemetry?: TelemetryConfig;
  /**
   * The trace context sent with create, resume and send (unless the call gives its own
   * `traceparent`). Without it, the active OpenTelemetry context is used when
   * `@opentelemetry/api` is installed (an optional peer dependency).
   */
  onGetTraceContext?: TraceContextProvider;
  /**
   * Session state in a filesystem the host implements: every session of this client then needs
   * `createSessionFsProvider` (else `invalid_config`).
   */
  sessionFs?: SessionFsConfig;
  /** Largest accepted incoming message, in bytes. */
  maxMessageSize?: number;
  /**
   * Deadline for ordinary calls, in seconds (default 30; 0 = none). `rpc(…, {timeout})`
   * overrides it per call.
   */
  requestTimeout?: number;
  /**
   * Reconnection when the connection to the CLI is lost: `true` (default) or `false` (the
   * client stops for good, as `stop()` would), or a policy (its fields default as below).
   * A client reconnects (`cliUrl`) or restarts its spawned CLI, then resumes its open sessions.
   */
  reconnect?: boolean | ReconnectOptions;
  /** Ping the CLI after this many seconds without traffic (default 15; 0 = no heartbeat). */
  heartbeatInterval?: number;
  /** A heartbeat ping unanswered after this many seconds closes the connection as dead (default 10). */
  heartbeatTimeout?: number;
  /** TCP keepalive idle time in seconds on a TCP connection (default 10; 0 = off). */
  tcpKeepalive?: number;
  /** TCP_USER_TIMEOUT in seconds: unacknowledged data for this long drops the connection (default 20; 0 = off). */
  tcpUserTimeout?: number;
  /** Deadline for start (spawn, port, handshake), in seconds (default 30). */
  startTimeout?: number;
  /** How long stop() waits for a spawned CLI before killing it, in seconds (default 5). */
  stopGrace?: number;
  /**
   * A never-started client starts on its first call (default true); with false, calls before
   * start() fail with `not_connected`. After stop(), calls fail with `not_connected` until start().
   */
  autoStart?: boolean;
}

/** The reconnection policy (durations in seconds). */
export interface ReconnectOptions {
  /** Default true (an object without `enabled` turns reconnection on). */
  enabled?: boolean;
  /** Attempts per outage before giving up (default 20; 0 = no limit). */
  maxAttempts?: number;
  /** Delay before the first attempt (default 0.1); doubled per attempt, ±25 % jitter. */
  initialDelay?: number;
  /** Longest delay between attempts (default 5). */
  maxDelay?: number;
  /** How long a call made while reconnecting waits for the connection before failing with `reconnecting` (default 10; 0 = fail at once). */
  callWait?: number;
  /** Spawned CLI: at most this many restarts within `restartWindow` (default 5), then `reconnect_failed`. */
  maxRestarts?: number;
  /** Default 60. */
  restartWindow?: number;
}

// ---------------------------------------------------------------------------------------------
// Events

/** Every session event has this envelope; unknown types and fields are kept. */
export interface SessionEventBase<T extends string = string, D = Record<string, unknown>> {
  id: string;
  timestamp: string;
  parentId: string | null;
  type: T;
  data: D;
  /** Transient events are not persisted (never returned by getMessages). */
  ephemeral?: boolean;
  /** Set on sub-agent events. */
  agentId?: string;
  [extra: string]: unknown;
}

export interface ToolRequest {
  toolCallId: string;
  name: string;
  arguments: unknown;
  [extra: string]: unknown;
}

// The session events themselves are generated from the CLI's schema (protocol.d.ts): one
// interface per event type (`AssistantMessageEvent` with `data: AssistantMessageData`, …), the
// `KnownSessionEvent` union, `SessionEventType`, `SessionEventMap`, and `OtherSessionEvent` for
// types newer than the schema (they are delivered too, untyped). `SessionEvent` is both;
// `SessionEventOf<T>` picks the event of a type.

export interface SessionLifecycleEvent {
  /** `session.created`, `session.deleted`, `session.updated`, `session.foreground`, `session.background`. */
  type: string;
  sessionId: string;
  metadata?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** A lifecycle event of the client's connection: `sessionId` is `""`, the details are in `metadata`. */
export interface ConnectionEventBase<T extends string, M> {
  type: T;
  sessionId: '';
  metadata: M;
  [extra: string]: unknown;
}
/** The connection to the CLI is gone; in-flight calls failed with `code`, running handlers were cancelled. */
export type ConnectionLostEvent = ConnectionEventBase<'connection.lost', { error: string; code: CopilotErrorCode }>;
/** Attempt `attempt` follows in `delayMs`; `error`/`code`: why the connection (or the last attempt) failed. */
export type ConnectionReconnectingEvent = ConnectionEventBase<
  'connection.reconnecting',
  { attempt: number; maxAttempts: number; delayMs: number; error: string; code: CopilotErrorCode }
>;
/** Connected again (`restarted`: a new CLI was spawned); the open sessions were resumed (or lost). */
export type ConnectionRestoredEvent = ConnectionEventBase<
  'connection.restored',
  { attempts: number; downtimeMs: number; restarted: boolean; sessionsResumed: number; sessionsLost: number }
>;
/** The client gave up: calls fail with `reconnect_failed` (or `code`) until `start()`; sessions ended. */
export type ConnectionGaveUpEvent = ConnectionEventBase<
  'connection.gave_up',
  { error: string; code: CopilotErrorCode; attempts: number; reason?: string }
>;
export type ConnectionEvent = ConnectionLostEvent | ConnectionReconnectingEvent | ConnectionRestoredEvent | ConnectionGaveUpEvent;
export type ConnectionEventType = ConnectionEvent['type'];
/** What a lifecycle listener receives. */
export type LifecycleEvent = ConnectionEvent | SessionLifecycleEvent;
/** The lifecycle event of a type: precise for connection events. */
export type LifecycleEventOf<T extends string> = T extends ConnectionEventType
  ? Extract<ConnectionEvent, { type: T }>
  : SessionLifecycleEvent;

// ---------------------------------------------------------------------------------------------
// Handlers
//
// Every handler gets the payload the core defines for its request kind (the table in
// core/src/host.rs; identical in every language, pinned by tests/scenarios) and, second, the
// official SDK's invocation `{sessionId}` (a one-argument handler ignores it), and may return
// any of the reply forms that kind accepts, sync or as a Promise. The core reads the reply and
// supplies the defaults; a handler that throws gets the kind's failure answer. Tool handlers get
// the (parsed) arguments first and the payload second.
//
// Every payload also carries `signal` (non-enumerable: not in Object.keys, JSON or a spread):
// an AbortSignal aborted when the answer is no longer wanted (the turn was aborted or timed
// out, the session disconnected, the client stopped, the connection was lost). The core has
// answered the CLI by then; whatever the handler returns afterwards is ignored.

/** What every handler payload carries besides its fields. */
export interface HandlerContext {
  /** Aborted (reason: a `CopilotError` with code `cancelled`) when the answer is no longer wanted. */
  readonly signal: AbortSignal;
}

/** The second argument of every handler but a tool's (the official SDKs' `invocation`). */
export interface HandlerInvocation {
  /** The id of the session the request is for (`session.sessionId`). */
  readonly sessionId: string;
}

/** The tool handler's payload (second argument). */
export interface ToolInvocation extends HandlerContext {
  sessionId: string;
  requestId: string;
  toolCallId: string;
  toolName: string;
  /** The raw arguments from the model (before schema validation). */
  arguments: unknown;
  workingDirectory: string | null;
  /**
   * The W3C trace context of the CLI's span for this tool call (null without telemetry). With
   * `@opentelemetry/api` installed the handler already runs in it (`context.active()`).
   */
  traceparent: string | null;
  tracestate: string | null;
}

/** A full tool result object (sent as is). */
export interface ToolResultObject {
  textResultForLlm: string;
  resultType: 'success' | 'failure' | 'rejected' | 'denied' | 'timeout';
  error?: string;
  sessionLog?: string;
  [extra: string]: unknown;
}

/**
 * A string is the text for the model; a result object goes as is; null/undefined is `""`; any
 * other value reaches the model as its JSON text. Throwing fails the tool
 * (`Tool '<name>' failed: <message>`).
 */
export type ToolResult = string | ToolResultObject | unknown;

/** The part of a zod schema this package uses (zod is an optional peer dependency). */
export interface ZodLikeSchema<T = unknown> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { message: string } };
  toJSONSchema?: () => Record<string, unknown>;
}

/** JSON Schema of a tool's arguments object. */
export type JsonSchema = Record<string, unknown>;

export interface Tool<TArgs = any> {
  name: string;
  description?: string;
  /** JSON Schema, or a zod schema (converted with zod 4's toJSONSchema; arguments are validated). */
  parameters?: JsonSchema | ZodLikeSchema<TArgs>;
  /** Runs the tool; sync or async. Omit it to declare a tool that another connection executes. */
  handler?: (args: TArgs, invocation: ToolInvocation) => ToolResult | Promise<ToolResult>;
  /** Run without a permission prompt. */
  skipPermission?: boolean;
  /** Needed to replace a built-in tool of the same name (e.g. `bash`). */
  overridesBuiltInTool?: boolean;
  [extra: string]: unknown;
}

/** What the CLI asks permission for (its `permissionRequest`). */
export interface PermissionRequest {
  /** `shell`, `write`, `read`, `custom-tool`, `mcp`, `url`, … */
  kind: string;
  toolCallId?: string;
  [extra: string]: unknown;
}

/**
 * The permission handler's payload. The fields of `request` that the payload does not have
 * itself (`fullCommandText`, `fileName`, …: the official SDK's request) are readable on it too,
 * non-enumerable (not in its keys or JSON).
 */
export interface PermissionPayload extends HandlerContext {
  sessionId: string;
  requestId: string;
  /** `request.kind`. */
  kind: string;
  toolCallId: string | null;
  request: PermissionRequest;
  [requestField: string]: unknown;
}

export type PermissionDecisionKind =
  | 'approve-once'
  | 'approve-for-session'
  | 'approve-for-location'
  | 'reject'
  | 'user-not-available'
  | 'no-result';

/** A kind, `{kind, feedback?}`, `true` (approve once) or `false` (reject). Throwing: `user-not-available`. */
export type PermissionDecision =
  | PermissionDecisionKind
  | boolean
  | { kind: 'reject'; feedback?: string }
  | { kind: PermissionDecisionKind; [extra: string]: unknown };

/** The official form `(request, invocation)`; a one-argument handler works as well. */
export type PermissionHandler = (
  request: PermissionPayload,
  invocation: HandlerInvocation,
) => PermissionDecision | Promise<PermissionDecision>;

/** The user-input handler's payload (the `ask_user` tool). */
export interface UserInputPayload extends HandlerContext {
  sessionId: string;
  question: string;
  choices: string[];
  allowFreeform: boolean;
}
/**
 * The answer text, or `{answer, wasFreeform?}`: without `wasFreeform` the answer is freeform
 * unless it is one of the choices. Throwing: the CLI reports that the user could not respond.
 */
export type UserInputResponse = string | { answer: string; wasFreeform?: boolean };
/** The official form `(request, invocation)`; a one-argument handler works as well. */
export type UserInputHandler = (
  request: UserInputPayload,
  invocation: HandlerInvocation,
) => UserInputResponse | Promise<UserInputResponse>;

/**
 * A hook handler's payload: `input` is what the CLI sent for that hook type, typed by the
 * generated `HookTypes` table for the hook types of the schema (`PreToolUseHookInput`, …).
 */
export type HookPayloadBase<T extends string = string> = {
  /** Aborted (reason: a `CopilotError` with code `cancelled`) when the answer is no longer wanted. */
  readonly signal: AbortSignal;
  sessionId: string;
  /** `preToolUse`, `postToolUse`, `userPromptSubmitted`, `sessionStart`, `sessionEnd`, … */
  hookType: T;
  input: T extends TypedHookType ? HookTypes[T]['input'] : Record<string, any>;
};
/**
 * A hook handler's payload: `{sessionId, hookType, input}`, and the fields of `input` readable
 * on it too (non-enumerable: not in its keys or JSON), so that the official form
 * `onPreToolUse: (input, invocation) => input.toolName` works as well as `request.input.toolName`.
 */
export type HookPayload<T extends string = string> = HookPayloadBase<T> &
  (T extends TypedHookType ? Readonly<Omit<HookTypes[T]['input'], 'sessionId'>> : { readonly [field: string]: any });
/**
 * Hook output or nothing: the generated `<Type>HookOutput` for the hook types of the schema
 * (`PreToolUseHookOutput`: `permissionDecision`, `permissionDecisionReason`, …), any object
 * otherwise. Passed to the CLI as is. Throwing: an empty output.
 */
export type HookOutput<T extends string = string> =
  | (T extends TypedHookType ? HookTypes[T]['output'] : Record<string, unknown>)
  | null
  | undefined
  | void;
/** The handler of hook type `T`: `(request, invocation)`, a one-argument handler works as well. */
export type HookHandler<T extends string = string> = (
  request: HookPayload<T>,
  invocation: HandlerInvocation,
) => HookOutput<T> | Promise<HookOutput<T>>;

/** The typed handler entries: each hook type of `HookTypes` as `preToolUse` and `onPreToolUse`. */
export type TypedSessionHooks = {
  [T in TypedHookType as T | `on${Capitalize<T>}`]?: HookHandler<T>;
};

/**
 * Hook handlers by hook type, in any spelling (`onPreToolUse`, `preToolUse`,
 * `pre_tool_use`, …); only the types given reach the host. The hook types of the schema are
 * typed in the camel spellings (input `PreToolUseHookInput`, output `PreToolUseHookOutput`);
 * other keys get the untyped payload. `onHook` is called for every hook type without its own
 * entry.
 */
export interface SessionHooks extends TypedSessionHooks {
  onSubagentStop?: HookHandler;
  onHook?: HookHandler;
  [hookType: string]: AnyHookHandler | undefined;
}
/**
 * Any hook handler (the value type of the other keys of `SessionHooks`): declared as a method so
 * that the typed entries fit it while another key still gets the untyped payload.
 */
export type AnyHookHandler = {
  handler(request: HookPayload, invocation: HandlerInvocation): unknown;
}['handler'];

/** The system-message transform's payload: the sections configured with `action: "transform"`. */
export interface SystemMessageTransformPayload extends HandlerContext {
  sessionId: string;
  sections: Record<string, { content: string }>;
}
/** `{sections}` or a sections object; each section `{content}` or a string; sections left out (or null) stay unchanged. */
export type SystemMessageTransformResult =
  | { sections: Record<string, { content: string } | string> }
  | Record<string, { content: string } | string>
  | null
  | undefined
  | void;

/** The exit-plan-mode handler's payload (as the CLI sent it). */
export interface ExitPlanModePayload extends HandlerContext {
  sessionId: string;
  summary?: string;
  planContent?: string | null;
  actions?: string[];
  recommendedAction?: string;
  [extra: string]: unknown;
}
/** `true`/`false`, an action name (approved with it), `{approved?, selectedAction?, feedback?}`, or nothing (approved). */
export type ExitPlanModeResult =
  | boolean
  | string
  | { approved?: boolean; selectedAction?: string; feedback?: string }
  | null
  | undefined
  | void;

/** The provider-token handler's payload: asked before every model request of a BYOK provider. */
export interface ProviderTokenPayload extends HandlerContext {
  sessionId: string;
  providerName: string;
}
export type ProviderTokenResult = string | { token: string };

/** The auto-mode-switch handler's payload (as the CLI sent it). */
export interface AutoModeSwitchPayload extends HandlerContext {
  sessionId: string;
  errorCode?: string;
  retryAfterSeconds?: number;
  [extra: string]: unknown;
}
/** `"yes"`, `"yes_always"`, `"no"`, `true` (yes), `false` (no) or `{response}`. Throwing: `no`. */
export type AutoModeSwitchResult = 'yes' | 'yes_always' | 'no' | boolean | { response: 'yes' | 'yes_always' | 'no' };
/** The official `onAutoModeSwitchRequest` handler. */
export type AutoModeSwitchHandler = (
  request: AutoModeSwitchPayload,
  invocation: HandlerInvocation,
) => AutoModeSwitchResult | Promise<AutoModeSwitchResult>;

// --- Elicitation (UI dialogs) -------------------------------------------------------------

/** A field of an elicitation form (MCP's primitive schema definitions). */
export type ElicitationSchemaField =
  | { type: 'string'; title?: string; description?: string; minLength?: number; maxLength?: number; format?: 'email' | 'uri' | 'date' | 'date-time'; default?: string; enum?: string[]; enumNames?: string[]; oneOf?: { const: string; title?: string }[] }
  | { type: 'number' | 'integer'; title?: string; description?: string; minimum?: number; maximum?: number; default?: number }
  | { type: 'boolean'; title?: string; description?: string; default?: boolean }
  | { type: 'array'; title?: string; description?: string; minItems?: number; maxItems?: number; items: { type: 'string'; enum?: string[] } | { anyOf: { const: string; title?: string }[] }; default?: string[] };

/** The form an elicitation asks for. */
export interface ElicitationSchema {
  type: 'object';
  properties: Record<string, ElicitationSchemaField>;
  required?: string[];
}

/** What the elicitation handler gets (the official `ElicitationContext`). */
export interface ElicitationContext extends HandlerContext {
  sessionId: string;
  requestId: string;
  /** What the form is for. */
  message: string;
  requestedSchema?: ElicitationSchema | null;
  /** `"form"` (structured input) or `"url"` (browser redirect). */
  mode?: 'form' | 'url' | null;
  /** Who asked (e.g. an MCP server's name). */
  elicitationSource?: string | null;
  url?: string | null;
}

export type ElicitationContent = Record<string, string | number | boolean | string[]>;

/** The user's answer. */
export interface ElicitationResult {
  action: 'accept' | 'decline' | 'cancel';
  content?: ElicitationContent;
}

/**
 * `{action, content?}`, a bare action, the accepted content itself, or null (cancel). Throwing:
 * cancel.
 */
export type ElicitationReply = ElicitationResult | 'accept' | 'decline' | 'cancel' | ElicitationContent | null | undefined;

/** The official `onElicitationRequest` handler. */
export type ElicitationHandler = (context: ElicitationContext, invocation: HandlerInvocation) => ElicitationReply | Promise<ElicitationReply>;

/** `session.ui.elicitation` parameters. */
export interface ElicitationParams {
  message: string;
  requestedSchema: ElicitationSchema;
}

/** Options of `session.ui.input`. */
export interface UiInputOptions {
  title?: string;
  description?: string;
  minLength?: number;
  maxLength?: number;
  format?: 'email' | 'uri' | 'date' | 'date-time';
  default?: string;
}

/** `session.ui`: dialogs through the session's elicitation provider. */
export interface SessionUiApi {
  /** Any form: `{action, content?}`. */
  elicitation(params: ElicitationParams): Promise<ElicitationResult>;
  /** A yes/no question: true when accepted and confirmed. */
  confirm(message: string): Promise<boolean>;
  /** One of `options`, or null (declined / cancelled). */
  select(message: string, options: string[]): Promise<string | null>;
  /** A text, or null (declined / cancelled). */
  input(message: string, options?: UiInputOptions): Promise<string | null>;
}

/** What the session's host supports (`session.capabilities`). */
export interface SessionCapabilities {
  ui?: { elicitation?: boolean; mcpApps?: boolean; canvases?: boolean; [extra: string]: unknown };
  [extra: string]: unknown;
}

// --- Slash commands ------------------------------------------------------------------------

/** What a command handler gets (the official `CommandContext`). */
export interface CommandContext extends HandlerContext {
  sessionId: string;
  requestId: string;
  /** The whole command line, e.g. `"/deploy production"`. */
  command: string;
  /** The name without the slash, e.g. `"deploy"`. */
  commandName: string;
  /** The raw text after the name. */
  args: string;
}
/** Runs a command; what it throws is reported as the command's error. */
export type CommandHandler = (context: CommandContext) => unknown | Promise<unknown>;
/** A slash command of the session (`/name args`). */
export interface CommandDefinition {
  name: string;
  description?: string;
  handler: CommandHandler;
}

// --- MCP OAuth -----------------------------------------------------------------------------

/** An MCP server needs an OAuth token (the `mcp.oauth_required` data). */
export interface McpAuthRequest extends HandlerContext {
  sessionId: string;
  requestId: string;
  serverName: string;
  serverUrl: string;
  reason?: 'initial' | 'refresh' | 'reauth' | 'upscope' | string;
  wwwAuthenticateParams?: { resourceMetadataUrl?: string; scope?: string; error?: string; [extra: string]: unknown };
  resourceMetadata?: string;
  staticClientConfig?: { clientId: string; clientSecret?: string; grantType?: 'client_credentials'; publicClient?: boolean };
  [extra: string]: unknown;
}
export interface McpAuthToken {
  accessToken: string;
  tokenType?: string;
  /** Seconds. */
  expiresIn?: number;
}
export type McpAuthResult = ({ kind: 'token' } & McpAuthToken) | { kind: 'cancelled' };
/** A token (text or object), a result, or null (cancelled). Throwing: cancelled. */
export type McpAuthHandler = (
  request: McpAuthRequest,
  invocation: HandlerInvocation,
) => McpAuthResult | McpAuthToken | string | null | undefined | Promise<McpAuthResult | McpAuthToken | string | null | undefined>;

// --- GitHub token provider -----------------------------------------------------------------

/** Why the token is asked for: at create/resume, or after the CLI reported an authentication error. */
export interface GitHubTokenProviderArgs extends HandlerContext {
  sessionId: string;
  /** E.g. `"https://github.com"`. */
  host: string;
  reason: 'initial' | 'refresh';
}
export interface GitHubToken {
  accessToken: string;
  /** Seconds (default 8 hours). */
  expiresIn?: number;
  tokenType?: string;
}
export type GitHubTokenProviderResult = string | GitHubToken | ({ kind: 'token' } & GitHubToken) | { kind: 'cancelled' } | null | undefined;
/** The session's GitHub token, asked when needed; cancelled or failed: the operation fails. */
export type GitHubTokenProvider = (
  args: GitHubTokenProviderArgs,
  invocation: HandlerInvocation,
) => GitHubTokenProviderResult | Promise<GitHubTokenProviderResult>;

// --- Session filesystem --------------------------------------------------------------------

/** Client option `sessionFs`. */
export interface SessionFsConfig {
  /** The working directory sessions start in (in the provider's namespace). */
  initialCwd: string;
  /** Where session state lives (in the provider's namespace), e.g. `"/session-state"`. */
  sessionStatePath: string;
  /** Path conventions (default `"posix"`). */
  conventions?: 'posix' | 'windows';
  capabilities?: { sqlite?: boolean };
}

export interface SessionFsFileInfo {
  isFile: boolean;
  isDirectory: boolean;
  size: number;
  /** ISO text, a Date, or Unix milliseconds. */
  mtime: string | Date | number;
  birthtime: string | Date | number;
}

/**
 * A session's filesystem (the official interface). Throw an error with `code: "ENOENT"` for a
 * missing path; any other failure is reported as `UNKNOWN`.
 */
export interface SessionFsProvider {
  readFile(path: string): Promise<string> | string;
  writeFile(path: string, content: string, mode?: number): Promise<void> | void;
  appendFile(path: string, content: string, mode?: number): Promise<void> | void;
  exists(path: string): Promise<boolean> | boolean;
  stat(path: string): Promise<SessionFsFileInfo> | SessionFsFileInfo;
  mkdir(path: string, recursive: boolean, mode?: number): Promise<void> | void;
  readdir(path: string): Promise<string[]> | string[];
  readdirWithTypes(path: string): Promise<{ name: string; type: 'file' | 'directory' }[]> | { name: string; type: 'file' | 'directory' }[];
  rm(path: string, recursive: boolean, force: boolean): Promise<void> | void;
  rename(src: string, dest: string): Promise<void> | void;
  /** With `sessionFs.capabilities.sqlite`. */
  sqlite?: {
    query(queryType: 'exec' | 'query' | 'run' | string, query: string, params?: unknown): unknown;
    exists(): Promise<boolean> | boolean;
  };
}

// --- Telemetry -----------------------------------------------------------------------------

/** Client option `telemetry`: the spawned CLI's OpenTelemetry export. */
export interface TelemetryConfig {
  otlpEndpoint?: string;
  otlpProtocol?: 'http/json' | 'http/protobuf';
  /** JSON lines of spans (with `exporterType: "file"`). */
  filePath?: string;
  exporterType?: 'otlp-http' | 'file' | string;
  sourceName?: string;
  captureContent?: boolean;
}

/** A W3C trace context. */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}
export type TraceContextProvider = () => TraceContext | undefined | Promise<TraceContext | undefined>;

export interface SystemMessageSection {
  /** `"transform"`: the session's `onSystemMessageTransform` gets the section's text. */
  action?: 'keep' | 'replace' | 'remove' | 'append' | 'prepend' | 'transform';
  content?: string;
  [extra: string]: unknown;
}

export interface SystemMessageConfig {
  mode?: 'append' | 'replace' | 'customize';
  content?: string;
  sections?: Record<string, SystemMessageSection>;
  [extra: string]: unknown;
}

/** BYOK model provider. */
export interface ProviderConfig {
  type?: 'openai' | 'azure' | 'anthropic' | string;
  baseUrl: string;
  apiKey?: string;
  bearerToken?: string;
  wireApi?: 'completions' | 'responses';
  headers?: Record<string, string>;
  [extra: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Session options

export interface SessionConfig {
  /** Client-chosen id (a UUID is generated when absent). */
  sessionId?: string;
  model?: string;
  reasoningEffort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max';
  provider?: ProviderConfig;
  tools?: Tool[];
  /** A string appends to the system prompt. */
  systemMessage?: string | SystemMessageConfig;
  availableTools?: string[];
  excludedTools?: string[];
  customAgents?: Record<string, unknown>[];
  mcpServers?: Record<string, unknown>;
  workingDirectory?: string;
  /** Emit `assistant.message_delta` events. */
  streaming?: boolean;
  /** Per-session GitHub identity. */
  githubToken?: string;
  /** Same as `githubToken` (today's official spelling); give one of the two. */
  gitHubToken?: string;
  /** `interactive`, `plan` or `autopilot`, applied right after create/resume. */
  mode?: 'interactive' | 'plan' | 'autopilot';
  infiniteSessions?: boolean | Record<string, unknown>;
  clientName?: string;
  /** Permission prompts; without it the CLI's other clients (or its default) answer them. */
  onPermissionRequest?: PermissionHandler;
  /** Questions of the `ask_user` tool. */
  onUserInputRequest?: UserInputHandler;
  hooks?: SessionHooks;
  /** Rewrites the system-message sections configured with `action: "transform"`. */
  onSystemMessageTransform?: (
    request: SystemMessageTransformPayload,
    invocation: HandlerInvocation,
  ) => SystemMessageTransformResult | Promise<SystemMessageTransformResult>;
  onExitPlanMode?: (request: ExitPlanModePayload, invocation: HandlerInvocation) => ExitPlanModeResult | Promise<ExitPlanModeResult>;
  /** Bearer token for the BYOK provider, asked before every model request. */
  onProviderToken?: (request: ProviderTokenPayload, invocation: HandlerInvocation) => ProviderTokenResult | Promise<ProviderTokenResult>;
  /** Whether to switch to auto mode after a rate limit. */
  onAutoModeSwitch?: AutoModeSwitchHandler;
  /** Same as `onAutoModeSwitch` (today's official name). */
  onAutoModeSwitchRequest?: AutoModeSwitchHandler;
  /** Shows forms to the user (makes this client an elicitation provider: `session.ui` works). */
  onElicitationRequest?: ElicitationHandler;
  /** Slash commands (`/name args`) this client runs. */
  commands?: CommandDefinition[];
  /** OAuth tokens for the session's MCP servers. */
  onMcpAuthRequest?: McpAuthHandler;
  /** The session's GitHub token, asked at create/resume and after an authentication error (not with `gitHubToken` or a BYOK `provider`). */
  gitHubTokenProvider?: GitHubTokenProvider;
  /** The session's filesystem, with the client option `sessionFs` (required there). */
  createSessionFsProvider?: (session: CopilotSession) => SessionFsProvider;
  /** W3C trace context of the creation (default: the client's `onGetTraceContext` / OpenTelemetry). */
  traceparent?: string;
  tracestate?: string;
  /** Receives every event from the very first one. */
  onEvent?: (event: SessionEvent) => void;
  /** Any other `session.create` field passes through as is. */
  [extra: string]: unknown;
}

export type ResumeSessionConfig = Omit<SessionConfig, 'sessionId'>;

export interface MessageOptions {
  prompt: string;
  attachments?: Record<string, unknown>[];
  /** `enqueue` (default) or `immediate` (steer the running turn). */
  mode?: 'enqueue' | 'immediate';
  requestHeaders?: Record<string, string>;
  /** Abort the turn when sendAndWait times out (default: leave it running). */
  abortOnTimeout?: boolean;
  /**
   * sendAndWait fails with `timeout` when the session sends no event for this many
   * milliseconds (default: off; 0 = off). Every event restarts it.
   */
  idleTimeout?: number;
  /** Cancels sendAndWait (it rejects with code `cancelled`) and aborts the turn. */
  signal?: AbortSignal;
  /** W3C trace context of the turn (default: the client's `onGetTraceContext` / OpenTelemetry). */
  traceparent?: string;
  tracestate?: string;
  [extra: string]: unknown;
}

export interface SendAndWaitOptions {
  /** Milliseconds (default 60000). */
  timeout?: number;
  /** Milliseconds without an event before it fails with `timeout` (as `MessageOptions.idleTimeout`). */
  idleTimeout?: number;
  signal?: AbortSignal;
}

/** Per-call options of `rpc`. */
export interface RpcOptions {
  /** This call's deadline in milliseconds instead of the client's `requestTimeout` (0 or Infinity: none). */
  timeout?: number;
}

/** The generic call by method name (`rpc(method, params, options)`). */
export type GenericRpc = <T = any>(method: string, params?: Record<string, unknown> | null, options?: RpcOptions) => Promise<T>;

/** An async iterator of events that ends when the session is disconnected. */
export interface SessionEventIterator<E> extends AsyncIterableIterator<E> {
  return(): Promise<IteratorResult<E, undefined>>;
}

export declare class CopilotSession {
  private constructor();
  readonly sessionId: string;
  /**
   * The fencing token of the session's lease (a session of a CopilotPool with `lease`): it grows
   * with every acquisition of the session's lease, so a store you write to can refuse a stale
   * holder. Undefined otherwise.
   */
  readonly leaseToken: number | undefined;
  /** The URL of the server a pooled session is on now (it changes when the session moves); undefined outside a pool. */
  readonly server: string | undefined;
  /** The session's workspace folder on the CLI's machine. */
  readonly workspacePath: string | undefined;
  /** The raw `session.create` / `session.resume` result. */
  readonly info: Record<string, unknown>;
  /** What the session's host supports; kept current by `capabilities.changed` events. */
  readonly capabilities: SessionCapabilities;
  /** Dialogs (check `capabilities.ui?.elicitation` first: without it they reject with `invalid_config`). */
  readonly ui: SessionUiApi;
  /** Queues a prompt; resolves to the message id (Node stays up until the session's next `session.idle`). */
  send(options: MessageOptions | string): Promise<string>;
  /**
   * Sends a prompt and waits for `session.idle`: the last `assistant.message` of the turn, or
   * undefined. Rejects with `session_error`, `timeout` (after `timeout` ms, default 60000, or
   * `idleTimeout` ms without an event), `cancelled` (AbortSignal) or `turn_outcome_unknown`
   * (the connection was lost mid-turn: the turn may or may not have run). Every event of the turn (its `session.idle` included) has
   * reached the listeners before it settles: the core queues the result after them.
   */
  sendAndWait(options: MessageOptions | string, timeout?: number | SendAndWaitOptions): Promise<AssistantMessageEvent | undefined>;
  abort(): Promise<void>;
  /** Persisted events of the session. */
  getMessages(): Promise<SessionEvent[]>;
  /** Same as getMessages() (today's official name). */
  getEvents(): Promise<SessionEvent[]>;
  /** `session.model.switchTo` with `modelId` (and `reasoningEffort`). */
  setModel(model: string, options?: { reasoningEffort?: string } | string): Promise<ModelSwitchToResult>;
  /** Any session-scoped method by name (for methods newer than the schema; `sessionId` is added). */
  call<T = any>(method: string, params?: Record<string, unknown> | null, options?: RpcOptions): Promise<T>;
  /**
   * The typed session methods of the schema (`session.rpc.model.switchTo({ modelId })`); also
   * callable as the generic call (`session.rpc(method, params, options)`, same as `call`).
   */
  readonly rpc: GenericRpc & SessionRpc;
  /**
   * Every event; returns an unsubscribe function. Listeners get events in wire order, and
   * a host request (a handler call) after the events before it.
   */
  on(listener: (event: SessionEvent) => void): () => void;
  /** Events of one type (filtered by the core); returns an unsubscribe function. */
  on<T extends SessionEventType | (string & {})>(type: T, listener: (event: SessionEventOf<T>) => void): () => void;
  /** Events of these types (filtered by the core); returns an unsubscribe function. */
  on<T extends SessionEventType | (string & {})>(types: readonly T[], listener: (event: SessionEventOf<T>) => void): () => void;
  events(): SessionEventIterator<SessionEvent>;
  events<T extends SessionEventType | (string & {})>(type: T): SessionEventIterator<SessionEventOf<T>>;
  [Symbol.asyncIterator](): SessionEventIterator<SessionEvent>;
  /** Detaches; the session stays on disk and can be resumed. */
  disconnect(): Promise<void>;
  /** Same as disconnect(). */
  destroy(): Promise<void>;
  /** `await using session = await client.createSession(…)`: disconnect() at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Client

/** The answer to `ping` (`PingResult` of the schema). */
export type PingResponse = PingResult;

export interface GetStatusResponse {
  version: string;
  protocolVersion?: number;
  [extra: string]: unknown;
}

/** The answer to `getAuthStatus` (`SessionAuthStatus` of the schema). */
export type GetAuthStatusResponse = SessionAuthStatus;

/** A model of `listModels` (`Model` of the schema: capabilities, policy, billing, …). */
export type ModelInfo = Model;

/**
 * A stored session (`LocalSessionMetadataValue` of the schema) with its times as `Date`s, and
 * `createdAt` (= startTime, the backend-services guide reads it).
 */
export interface SessionMetadata extends Omit<LocalSessionMetadataValue, 'startTime' | 'modifiedTime'> {
  startTime: Date;
  modifiedTime: Date;
  createdAt: Date;
  [extra: string]: unknown;
}

export interface SessionListFilter {
  cwd?: string;
  gitRoot?: string;
  repository?: string;
  branch?: string;
}

/** What cleanupSessions deletes (seconds); at least one of maxAge and maxIdle. */
export interface CleanupOptions {
  /** Delete sessions started longer ago than this. */
  maxAge?: number;
  /** Delete sessions not modified for this long. */
  maxIdle?: number;
  /** Also delete sessions open here (they are disconnected first). Default false. */
  includeOpen?: boolean;
}

/** One background sweep that deleted something (session ids) or failed. */
export interface SweepResult {
  deleted: string[];
  error?: CopilotError;
}

export interface ReaperOptions extends CleanupOptions {
  /** Called after each sweep that deleted something or failed. */
  onSweep?: (result: SweepResult) => void;
}

/** A background reaper. */
export interface Reaper {
  /** Stops sweeping (idempotent). */
  stop(): void;
}

/** Counters of one client (one CLI server). */
export interface ClientMetrics {
  /** JSON-RPC requests sent. */
  calls: number;
  /** Failed calls and turns by error code. */
  errors: Partial<Record<CopilotErrorCode, number>> & Record<string, number>;
  reconnects: number;
  connectionLosses: number;
  /** Sessions moved here from another server of a pool. */
  failoversIn: number;
  /** Sessions moved away from here. */
  failoversOut: number;
  openSessions: number;
  /** Answered sendAndWait turns; `buckets` are cumulative, the last one `le: "+Inf"`. */
  turns: { count: number; sumSeconds: number; buckets: { le: number | '+Inf'; count: number }[] };
}

/** Counters of a pool: per server, and pool-wide. */
export interface PoolMetrics {
  servers: (ClientMetrics & { url: string; healthy: boolean; draining: boolean })[];
  failovers: number;
  leasesAcquired: number;
  leasesLost: number;
  leaseWaits: number;
  reaped: number;
  placementErrors: number;
  openSessions: number;
  healthyServers: number;
}

export declare class CopilotClient {
  /** Invalid options throw a CopilotError (`invalid_config`) at once. */
  constructor(options?: CopilotClientOptions);
  /** Spawns or connects and performs the handshake (also done on first use). */
  start(): Promise<void>;
  /**
   * Detaches this client's sessions, shuts down a CLI it spawned, closes the connection.
   * Resolves to the errors met (empty when clean). Nothing of the client keeps Node alive after.
   */
  stop(): Promise<Error[]>;
  /** `await using client = new CopilotClient(…)`: stop() at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Kills a spawned CLI at once. */
  forceStop(): Promise<void>;
  getState(): 'connected' | 'disconnected';
  ping(message?: string): Promise<PingResponse>;
  getStatus(): Promise<GetStatusResponse>;
  getAuthStatus(): Promise<GetAuthStatusResponse>;
  listModels(): Promise<ModelInfo[]>;
  createSession(config?: SessionConfig): Promise<CopilotSession>;
  /** Config is optional: a live session needs none; a cold one needs its provider again. */
  resumeSession(sessionId: string, config?: ResumeSessionConfig): Promise<CopilotSession>;
  listSessions(filter?: SessionListFilter): Promise<SessionMetadata[]>;
  /** One stored session's metadata (as a listSessions entry), or undefined when there is none of that id. */
  getSessionMetadata(sessionId: string): Promise<SessionMetadata | undefined>;
  /** Rejects with `session_not_found` when the session does not exist. */
  deleteSession(sessionId: string): Promise<void>;
  getLastSessionId(): Promise<string | undefined>;
  getForegroundSessionId(): Promise<string | undefined>;
  setForegroundSessionId(sessionId: string): Promise<void>;
  /** Any server method by name (for methods newer than the schema). */
  call<T = any>(method: string, params?: Record<string, unknown> | null, options?: RpcOptions): Promise<T>;
  /**
   * The typed server methods of the schema (`client.rpc.models.getBuiltInCatalog()`); also
   * callable as the generic call (`client.rpc(method, params, options)`, same as `call`).
   */
  readonly rpc: GenericRpc & ServerRpc;
  /**
   * Lifecycle notifications (sessions' and the connection's: `connection.lost`,
   * `connection.reconnecting`, `connection.restored`, `connection.gave_up`); returns an
   * unsubscribe function.
   */
  on(listener: (event: LifecycleEvent) => void): () => void;
  on<T extends string>(type: T, listener: (event: LifecycleEventOf<T>) => void): () => void;
  on<T extends string>(types: readonly T[], listener: (event: LifecycleEventOf<T>) => void): () => void;
  /** Same as on() (today's official name). */
  onLifecycle(listener: (event: LifecycleEvent) => void): () => void;
  onLifecycle<T extends string>(type: T, listener: (event: LifecycleEventOf<T>) => void): () => void;
  onLifecycle<T extends string>(types: readonly T[], listener: (event: LifecycleEventOf<T>) => void): () => void;
  /**
   * Deletes stored sessions past `maxAge` or `maxIdle` (seconds); never one open on this
   * client unless `includeOpen`. Resolves to what it deleted.
   */
  cleanupSessions(options: CleanupOptions): Promise<SessionMetadata[]>;
  /**
   * Runs cleanupSessions every `intervalSeconds` until `stop()` (or the client's stop()); each
   * sweep that deleted something or failed is also a `reaper.swept` lifecycle event. Never
   * keeps Node alive.
   */
  startReaper(intervalSeconds: number, options: ReaperOptions): Reaper;
  /** This client's counters. */
  metrics(): ClientMetrics;
  /** This client's counters in the Prometheus text format (label `server`). */
  metricsPrometheus(): string;
  readonly port: number | undefined;
  readonly cliPid: number | undefined;
  readonly protocolVersion: number | undefined;
  readonly serverVersion: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Pool

/** Session leases in Redis (durations in seconds). */
export interface LeaseOptions {
  /** `redis://[user:password@]host:port[/db]` (no TLS). */
  redisUrl: string;
  /** How long a lease lasts without renewal (default 30, at least 0.3); renewed every third of it. */
  ttl?: number;
  /** How long opening a session waits for another holder to let go (default 30; 0: fail at once with `lease_held`). */
  wait?: number;
  /** This instance's name in the store (default: host name, process id and a random part). */
  owner?: string;
  /** Key prefix (default `copilot:lease:`). */
  keyPrefix?: string;
}

/**
 * A pool's options: the servers, health checks, leases, and the client options each server's
 * client gets (`cliUrl`, `cliPath`, `useStdio`, `port`, `env`, `cwd` do not apply: a pool
 * connects to running servers).
 */
export interface CopilotPoolOptions
  extends Omit<CopilotClientOptions, 'connection' | 'onLifecycle' | 'cliUrl' | 'useStdio' | 'port' | 'cliPath' | 'cliArgs' | 'env' | 'cwd'> {
  /**
   * The servers (`host:port`), as an array or one comma-separated string. Every instance must
   * list the same servers spelled alike (the spelling is hashed), and the servers must share
   * their state directory (same `HOME`/`COPILOT_HOME`) for failover.
   */
  urls: string[] | string;
  /** How often a server that is down is tried again, in seconds (default 2). */
  healthInterval?: number;
  /** Lease sessions in Redis so that two instances never drive one session at once. */
  lease?: LeaseOptions;
}

/** A server of a pool, as `servers()` reports it. */
export interface PoolServer {
  url: string;
  healthy: boolean;
  draining: boolean;
  openSessions: number;
}

/**
 * Several CLI servers as one: rendezvous hashing of the session id picks a session's server,
 * failover resumes it on the next server of its ranking, `drain` empties a server for a
 * restart, and with `lease` two instances never drive one session at once. Sessions are
 * ordinary CopilotSessions (with `server` and `leaseToken`).
 */
export declare class CopilotPool {
  /** Invalid options throw a CopilotError (`invalid_config`) at once. */
  constructor(options: CopilotPoolOptions);
  /** Connects to every server; resolves when one answers, rejects with `no_server` when none does. Also done on first use (not after stop()). */
  start(): Promise<void>;
  /**
   * Releases the leases, detaches the sessions, stops the reapers and every server's client.
   * Resolves to the errors met. Afterwards calls fail with `not_connected` until start().
   */
  stop(): Promise<Error[]>;
  /** `await using pool = new CopilotPool(…)`: stop() at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Creates a session on its server (its lease first: `lease_held` after `lease.wait`). */
  createSession(config?: SessionConfig): Promise<CopilotSession>;
  /** Resumes a session on its server (its lease first); `session_not_found` when no server knows it. */
  resumeSession(sessionId: string, config?: ResumeSessionConfig): Promise<CopilotSession>;
  /** Stored sessions across the pool, each once. */
  listSessions(filter?: SessionListFilter): Promise<SessionMetadata[]>;
  deleteSession(sessionId: string): Promise<void>;
  /** Stops placing sessions on `url`; its open sessions move at their next prompt. */
  drain(url: string): void;
  undrain(url: string): void;
  servers(): PoolServer[];
  /** The servers ranked for a session id (first: where it goes when all are healthy). */
  ranking(sessionId: string): string[];
  /** Where a session would be placed now (undefined: no usable server). */
  serverFor(sessionId: string): string | undefined;
  readonly urls: string[];
  /** As CopilotClient.cleanupSessions, across the pool; never a session leased by another instance. */
  cleanupSessions(options: CleanupOptions): Promise<SessionMetadata[]>;
  /** Runs cleanupSessions every `intervalSeconds` until `stop()` (or the pool's stop()). Never keeps Node alive. */
  startReaper(intervalSeconds: number, options: ReaperOptions): Reaper;
  metrics(): PoolMetrics;
  /** Per server (`{server="…"}`) and pool-wide counters in the Prometheus text format. */
  metricsPrometheus(): string;
}

// ---------------------------------------------------------------------------------------------
// Logging

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Routes the core's log records (connection losses, reconnects, failovers, lease renewals,
 * reaper sweeps, …) to `handler` for `level` and above (default `info`); `null` stops. One
 * handler per process; by default nothing is logged. Never keeps Node alive.
 */
export declare function setLogHandler(
  handler: ((level: LogLevel, target: string, message: string, fields: Record<string, unknown>) => void) | null,
  options?: { level?: LogLevel } | LogLevel,
): void;

/** A permission handler that approves every request once. */
export declare function approveAll(request?: PermissionPayload, invocation?: HandlerInvocation): PermissionDecision;

/** The argument type a schema describes: zod's output type, else `any` (JSON schema). */
export type InferToolArgs<S> = S extends { _output: infer O }
  ? O
  : S extends { _zod: { output: infer O } }
    ? O
    : S extends ZodLikeSchema<infer T>
      ? T
      : any;

/** Declares a tool; with a zod schema the handler's `args` are typed from it. */
export declare function defineTool<S extends JsonSchema | ZodLikeSchema<any> = JsonSchema>(
  name: string,
  config: {
    description?: string;
    parameters?: S;
    handler?: (args: InferToolArgs<S>, invocation: ToolInvocation) => ToolResult | Promise<ToolResult>;
    skipPermission?: boolean;
    overridesBuiltInTool?: boolean;
    [extra: string]: unknown;
  },
): Tool<InferToolArgs<S>>;
export declare function defineTool<TArgs = any>(tool: Tool<TArgs>): Tool<TArgs>;

/** The Copilot CLI version this package is tested with. */
export declare const PINNED_CLI_VERSION: string;

/** What strict type checking counted (`COPILOT_STRICT_TYPES=1`). */
export interface StrictTypesReport {
  events: number;
  results: number;
  /** Event types the schema does not know, with how often each came. */
  unknownEventTypes: Record<string, number>;
  /** `Type.field` of fields the schema does not know. */
  unknownFields: Record<string, number>;
  /** `Type=value` of enum values (and union tags) the schema does not know. */
  unknownEnumValues: Record<string, number>;
  /** Values the types could not read (wrong JSON type, required field missing). */
  failures: number;
  /** The first failures, as `where: what`. */
  failureSamples: string[];
}

/** A checker of values against the generated types. */
export interface StrictTypesChecker {
  event(event: unknown): void;
  result(wireMethod: string, value: unknown): void;
  value(typeName: string, value: unknown, what?: string): void;
  report(): StrictTypesReport;
}

/**
 * Strict type checking for test suites: with `COPILOT_STRICT_TYPES=1`, every event delivered
 * and every typed result is checked against the generated types (no cost otherwise).
 */
export declare const strictTypes: {
  readonly enabled: boolean;
  /** This process's counters (undefined when strict mode is off). */
  report(): StrictTypesReport | undefined;
  /** A fresh checker with its own counters. */
  checker(): StrictTypesChecker;
  /** `strict types: N events, M results checked; unknown: …; failures: F`. */
  summaryLine(report: StrictTypesReport): string;
};
