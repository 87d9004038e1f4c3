// Type-level tests of the generated protocol (protocol.d.ts): typed events, typed RPC
// namespaces, typed results of the hand-written calls, zod tools. Checked with tsc --noEmit
// (test/types/tsconfig.json); never run. Every `@ts-expect-error` line must fail to compile.
import { z } from "zod";
import {
  CopilotClient,
  SESSION_EVENT_TYPES,
  defineTool,
  strictTypes,
  type AssistantMessageData,
  type KnownSessionEvent,
  type ModelSwitchToResult,
  type Protocol,
  type SessionEvent,
  type SessionEventType,
  type SessionMode,
} from "@copilot-hub/node";

const client = new CopilotClient({ cliUrl: "localhost:4321" });
const session = await client.createSession({ model: "gpt-4.1" });

// Typed events: the listener's event is picked by its type.
session.on("assistant.message", (e) => {
  const text: string = e.data.content;
  const data: AssistantMessageData = e.data;
  void text, data;
});
session.on("session.model_change", (e) => {
  const model: string = e.data.newModel;
  void model;
});
session.on(["assistant.message_delta", "session.idle"], (e) => {
  if (e.type === "assistant.message_delta") {
    const d: string = e.data.deltaContent;
    void d;
  }
});
session.on("assistant.message", (e) => {
  // @ts-expect-error `content` is a string, not a number
  const n: number = e.data.content;
  void n;
});
session.on("assistant.message", (e) => {
  // @ts-expect-error no such field in AssistantMessageData
  void e.data.contnet.length;
});
// A type newer than the schema is delivered too, untyped.
session.on("some.future_event", (e) => {
  const v: unknown = e.data["anything"];
  void v;
});
for await (const e of session.events("tool.execution_start")) {
  const name: string = e.data.toolName;
  void name;
  break;
}
const all = (e: SessionEvent) => e.type;
void all;
const known = (e: KnownSessionEvent): SessionEventType => e.type;
void known;
const types: readonly SessionEventType[] = SESSION_EVENT_TYPES;
void types;

// Typed RPC namespaces.
const switched: ModelSwitchToResult = await session.rpc.model.switchTo({ modelId: "gpt-5", reasoningEffort: "high" });
void switched;
// @ts-expect-error modelId is required
await session.rpc.model.switchTo({ reasoningEffort: "high" });
// @ts-expect-error modelId is a string
await session.rpc.model.switchTo({ modelId: 5 });
const mode: SessionMode = await session.rpc.mode.get();
void mode;
// @ts-expect-error not a mode of the schema
await session.rpc.mode.set({ mode: "sideways" });
const name: string | null = (await session.rpc.name.get()).name;
void name;
const eventId: string = (await session.rpc.log({ message: "hi", level: "warning" })).eventId;
void eventId;
const plan = await session.rpc.plan.read({ timeout: 5000 });
const planText: string | null = plan.content;
void planText;
await session.rpc.name.set({ name: "typed" });
// @ts-expect-error no such namespace
await session.rpc.modle.switchTo({ modelId: "x" });
const catalog = await client.rpc.models.getBuiltInCatalog();
const firstId: string | undefined = catalog.models[0]?.id;
void firstId;
const tools = await client.rpc.tools.list({});
void tools.tools.length;
// The generic call stays, for methods newer than the schema: `call`, and `rpc` itself.
const raw: { x: number } = await session.call("session.future.method", { a: 1 });
const raw2 = await session.rpc<{ y: string }>("session.future.method", {});
const raw3 = await client.call("future.method");
void raw, raw2, raw3;

// Typed results of the hand-written calls.
const models = await client.listModels();
const vision: boolean | undefined = models[0]?.capabilities.supports?.vision;
void vision;
const auth = await client.getAuthStatus();
const authed: boolean = auth.isAuthenticated;
void authed;
const sessions = await client.listSessions();
const started: Date | undefined = sessions[0]?.startTime;
void started;
const pong = await client.ping("x");
const ts: string = pong.timestamp;
void ts;

// Generated names shadowed by hand-written ones stay reachable.
const req: Protocol.PermissionRequest | undefined = undefined;
void req;

// Tools: the handler's arguments come from the zod schema.
defineTool("add", {
  parameters: z.object({ a: z.number(), b: z.number() }),
  handler: ({ a, b }) => {
    const sum: number = a + b;
    // @ts-expect-error `a` is a number
    const s: string = a;
    void s;
    return String(sum);
  },
});

if (strictTypes.enabled) {
  const r = strictTypes.report();
  void r?.failures;
}
