// Type-level tests of the public .d.ts (checked with tsc --noEmit; never run).
import { z } from "zod";
import {
  CopilotClient,
  CopilotError,
  CopilotPool,
  setLogHandler,
  ErrorCodes,
  approveAll,
  defineTool,
  RuntimeConnection,
  type AssistantMessageEvent,
  type LifecycleEvent,
  type UriRuntimeConnection,
  type CopilotErrorCode,
  type SessionEvent,
  type SessionMetadata,
} from "@copilot-hub/node";

const client = new CopilotClient({ cliUrl: "localhost:4321", connectionToken: "t", requestTimeout: 30 });
// @ts-expect-error cliUrl is a string
new CopilotClient({ cliUrl: 4321 });
// @ts-expect-error unknown log level
new CopilotClient({ logLevel: "loud" });

const session = await client.createSession({
  sessionId: "s",
  model: "gpt-4.1",
  provider: { type: "openai", baseUrl: "http://127.0.0.1:1/v1", apiKey: "k" },
  streaming: true,
  onPermissionRequest: approveAll,
  onUserInputRequest: async (req) => ({ answer: req.choices[0] ?? "x", wasFreeform: false }),
  onSystemMessageTransform: ({ sections }) => ({ tone: `${sections.tone?.content ?? ""} (edited)` }),
  onExitPlanMode: (req) => req.recommendedAction ?? true,
  onProviderToken: async ({ providerName }) => ({ token: `token-for-${providerName}` }),
  onAutoModeSwitch: () => "yes",
  hooks: { onPreToolUse: ({ input }) => (input.toolName === "bash" ? { permissionDecision: "deny" } : undefined) },
  tools: [
    defineTool("weather", {
      description: "w",
      parameters: z.object({ city: z.string() }),
      handler: async ({ city }) => `sunny in ${city.toUpperCase()}`,
    }),
    { name: "raw", parameters: { type: "object" }, handler: (args: { n: number }) => args.n * 2 },
  ],
});

await client.createSession({
  onPermissionRequest: (req) => req.kind === "shell" && req.request.kind === "shell",
  onUserInputRequest: (req) => req.question.toUpperCase(),
  hooks: { pre_tool_use: (req) => ({ additionalContext: req.hookType }), onHook: () => undefined },
  tools: [{ name: "t", handler: (_args: unknown, inv) => inv.workingDirectory ?? inv.toolCallId }],
});
await client.createSession({
  // @ts-expect-error a permission handler returns a decision
  onPermissionRequest: () => 42,
});

const answer = await session.sendAndWait({ prompt: "hi" }, 5000);
const content: string | undefined = answer?.data.content;
const ev: AssistantMessageEvent | undefined = answer;
void content;
void ev;
await session.sendAndWait({ prompt: "hi", signal: AbortSignal.timeout(1000) });
await session.sendAndWait("hi", { timeout: 1000, signal: new AbortController().signal });
// @ts-expect-error prompt is required
await session.sendAndWait({});

const off = session.on("assistant.message_delta", (e) => {
  const d: string = e.data.deltaContent;
  void d;
});
off();
session.on("tool.execution_complete", (e) => {
  const ok: boolean = e.data.success;
  void ok;
});
session.on("some.future_event", (e) => {
  const t: string = e.type;
  void t;
});
session.on((e: SessionEvent) => void e.id);
session.on(["assistant.message", "session.idle"], (e) => {
  if (e.type === "assistant.message") void e.data.content;
});
for await (const e of session.events("session.idle")) {
  const aborted: boolean | undefined = e.data.aborted;
  void aborted;
  break;
}
for await (const e of session) {
  void e.type;
  break;
}

const list: SessionMetadata[] = await client.listSessions();
const t: number = list[0]!.createdAt.getTime() + list[0]!.startTime.getTime() + list[0]!.modifiedTime.getTime();
void t;
await client.deleteSession("s");
const resumed = await client.resumeSession("s");
await resumed.destroy();
const errors: Error[] = await client.stop();
void errors;

try {
  await client.ping();
} catch (e) {
  if (e instanceof CopilotError) {
    const code: CopilotErrorCode = e.code;
    if (e.code === ErrorCodes.SESSION_NOT_FOUND) void code;
    // @ts-expect-error not a code
    if (e.code === "nope") void 0;
  }
}

// Reliability: the new client options (seconds), per-call deadlines (ms), idleTimeout (ms),
// the connection events of the lifecycle subscription, and handler cancellation.
const reliable = new CopilotClient({
  cliUrl: "127.0.0.1:4321",
  reconnect: { maxAttempts: 5, initialDelay: 0.1, maxDelay: 2, callWait: 5, maxRestarts: 3, restartWindow: 60 },
  requestTimeout: 0,
  heartbeatInterval: 15,
  heartbeatTimeout: 10,
  tcpKeepalive: 10,
  tcpUserTimeout: 20,
});
new CopilotClient({ reconnect: false });
// @ts-expect-error reconnect is a boolean or a policy
new CopilotClient({ reconnect: "yes" });
// @ts-expect-error durations are numbers (seconds)
new CopilotClient({ heartbeatInterval: "15s" });
await reliable.rpc("session.list", {}, { timeout: 0 });
await reliable.rpc<{ sessions: unknown[] }>("session.list", null, { timeout: 2500 });
// @ts-expect-error the per-call timeout is a number of milliseconds
await reliable.rpc("session.list", {}, { timeout: "soon" });
reliable.on("connection.restored", (e) => {
  const n: number = e.metadata.sessionsResumed + e.metadata.sessionsLost + e.metadata.downtimeMs;
  const restarted: boolean = e.metadata.restarted;
  void n;
  void restarted;
});
reliable.on("connection.reconnecting", (e) => {
  const n: number = e.metadata.attempt + e.metadata.maxAttempts + e.metadata.delayMs;
  const code: CopilotErrorCode = e.metadata.code;
  void n;
  void code;
});
reliable.on(["connection.lost", "connection.gave_up"], (e) => {
  const why: string = e.metadata.error;
  if (e.type === "connection.gave_up") void (e.metadata.attempts satisfies number);
  void why;
});
reliable.on("session.created", (e) => void e.sessionId);
reliable.on((e) => void e.type);
const rs = await reliable.createSession({
  tools: [
    {
      name: "slow",
      handler: async (_args: unknown, inv) => {
        const signal: AbortSignal = inv.signal;
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        return signal.reason instanceof CopilotError ? signal.reason.code : "other";
      },
    },
  ],
  onPermissionRequest: async ({ signal }) => (signal.aborted ? "reject" : "approve-once"),
  hooks: { onPreToolUse: ({ signal }) => void signal.throwIfAborted() },
});
await rs.sendAndWait({ prompt: "x", idleTimeout: 30000, abortOnTimeout: true }, { timeout: 600000 });
await rs.sendAndWait("x", { timeout: 600000, idleTimeout: 30000 });
await rs.rpc("session.getMessages", {}, { timeout: 1000 });
try {
  await rs.sendAndWait("x");
} catch (e) {
  if (e instanceof CopilotError && e.isRetriable && e.code !== ErrorCodes.TURN_OUTCOME_UNKNOWN) void e.code;
}

// Pool, leases, reaper, metrics, logging.
const pool = new CopilotPool({
  urls: ["127.0.0.1:4321", "127.0.0.1:4322"],
  healthInterval: 2,
  lease: { redisUrl: "redis://127.0.0.1:6379", ttl: 30, wait: 10, owner: "api-1", keyPrefix: "app:" },
  requestTimeout: 30,
  reconnect: { maxAttempts: 5 },
});
new CopilotPool({ urls: "127.0.0.1:4321,127.0.0.1:4322" });
// @ts-expect-error a pool connects to running servers: no cliUrl
new CopilotPool({ urls: ["a:1"], cliUrl: "b:2" });
// @ts-expect-error urls is required
new CopilotPool({});
// @ts-expect-error the lease needs its redisUrl
new CopilotPool({ urls: "a:1", lease: { ttl: 5 } });
const ps = await pool.createSession({ sessionId: "p", model: "gpt-4.1" });
const token: number | undefined = ps.leaseToken;
const where: string | undefined = ps.server;
void token;
void where;
const rp = await pool.resumeSession("p", { model: "gpt-4.1" });
await rp.disconnect();
pool.drain("127.0.0.1:4321");
pool.undrain("127.0.0.1:4321");
const first: string | undefined = pool.ranking("p")[0] ?? pool.serverFor("p");
void first;
for (const s of pool.servers()) void (s.healthy && !s.draining && s.openSessions > 0 && s.url);
const reaped: SessionMetadata[] = await pool.cleanupSessions({ maxAge: 86400, maxIdle: 3600, includeOpen: false });
void reaped;
const reaper = pool.startReaper(300, { maxIdle: 3600, onSweep: ({ deleted, error }) => void (error ? error.code : deleted.length) });
reaper.stop();
client.startReaper(60, { maxAge: 60 }).stop();
await client.cleanupSessions({ maxIdle: 1 });
// @ts-expect-error durations are numbers of seconds
await client.cleanupSessions({ maxIdle: "1h" });
const pm = pool.metrics();
const pn: number = pm.failovers + pm.leasesAcquired + pm.leasesLost + pm.reaped + pm.servers[0]!.turns.count;
void pn;
const cm = client.metrics();
const cn: number = cm.calls + (cm.errors.timeout ?? 0) + cm.turns.sumSeconds;
void cn;
const text: string = pool.metricsPrometheus() + client.metricsPrometheus();
void text;
setLogHandler((level, target, message, fields) => void `${level} ${target} ${message} ${JSON.stringify(fields)}`, { level: "warn" });
setLogHandler(null);
// @ts-expect-error unknown log level
setLogHandler(() => {}, "loud");
const stopped: Error[] = await pool.stop();
void stopped;

// Today's official names (issue 12): RuntimeConnection, getSessionMetadata, getEvents,
// onLifecycle, gitHubToken.
const uri: UriRuntimeConnection = RuntimeConnection.forUri("127.0.0.1:4321", { connectionToken: "t" });
const official = new CopilotClient({
  connection: uri,
  gitHubToken: "gho_x",
  onLifecycle: (e: LifecycleEvent) => void e.type,
});
new CopilotClient({ connection: RuntimeConnection.forStdio({ path: "/usr/bin/copilot", args: ["--x"] as const }) });
new CopilotClient({ connection: RuntimeConnection.forTcp({ port: 0, connectionToken: "t" }) });
new CopilotClient({ connection: RuntimeConnection.forTcp() });
// @ts-expect-error the kind is fixed by the factories
new CopilotClient({ connection: { kind: "pipe" } });
// @ts-expect-error forUri needs a URL
RuntimeConnection.forUri();
// @ts-expect-error a port is a number
RuntimeConnection.forTcp({ port: "4321" });
const meta: SessionMetadata | undefined = await official.getSessionMetadata("s");
if (meta) void (meta.createdAt.getTime() + meta.startTime.getTime() + meta.modifiedTime.getTime());
// @ts-expect-error the metadata may be missing
void (await official.getSessionMetadata("s")).sessionId;
const offLc: () => void = official.onLifecycle((e) => void e.type);
offLc();
official.onLifecycle("connection.restored", (e) => void (e.metadata.sessionsResumed satisfies number));
official.onLifecycle(["session.created", "session.deleted"], (e) => void e.sessionId);
const os = await official.createSession({ gitHubToken: "gho_y", model: "gpt-4.1" });
const evs: SessionEvent[] = await os.getEvents();
void evs;
// @ts-expect-error a pool has its own URL list, not a connection
new CopilotPool({ urls: "a:1", connection: uri });
