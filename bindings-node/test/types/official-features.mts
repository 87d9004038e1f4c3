// Type-level tests of the official features (checked with tsc --noEmit; never run): elicitation
// and session.ui, commands, onAutoModeSwitchRequest, onMcpAuthRequest, gitHubTokenProvider,
// sessionFs + createSessionFsProvider, telemetry + onGetTraceContext, mode "empty".
import {
  CopilotClient,
  approveAll,
  type CommandDefinition,
  type ElicitationHandler,
  type SessionFsProvider,
  type ToolInvocation,
} from "@copilot-hub/node";

const files = new Map<string, string>();
const provider: SessionFsProvider = {
  readFile: async (path) => files.get(path) ?? "",
  writeFile: async (path, content) => void files.set(path, content),
  appendFile: (path, content) => void files.set(path, (files.get(path) ?? "") + content),
  exists: (path) => files.has(path),
  stat: (path) => ({ isFile: files.has(path), isDirectory: !files.has(path), size: 0, mtime: new Date(), birthtime: Date.now() }),
  mkdir: async () => {},
  readdir: async () => [...files.keys()],
  readdirWithTypes: async () => [...files.keys()].map((name) => ({ name, type: "file" as const })),
  rm: async (path) => void files.delete(path),
  rename: async (src, dest) => void files.set(dest, files.get(src) ?? ""),
};

const onElicitationRequest: ElicitationHandler = async (context) => {
  const fields: string[] = Object.keys(context.requestedSchema?.properties ?? {});
  return context.mode === "url" ? "decline" : { action: "accept", content: { [fields[0] ?? "value"]: true } };
};

const deploy: CommandDefinition = {
  name: "deploy",
  description: "Deploy the app",
  handler: async ({ commandName, args, command }) => void [commandName, args.split(" "), command],
};

export async function features(): Promise<void> {
  const client = new CopilotClient({
    mode: "empty",
    baseDirectory: "/var/lib/app",
    telemetry: { exporterType: "file", filePath: "/tmp/otel.jsonl", captureContent: false },
    onGetTraceContext: () => ({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }),
    sessionFs: { initialCwd: "/work", sessionStatePath: "/state", conventions: "posix" },
  });
  const session = await client.createSession({
    availableTools: [],
    onPermissionRequest: approveAll,
    onElicitationRequest,
    commands: [deploy],
    onAutoModeSwitchRequest: (request, invocation) => (request.errorCode && invocation.sessionId ? "yes" : "no"),
    onMcpAuthRequest: async (request) => (request.serverName === "tracker" ? { accessToken: "t", expiresIn: 3600 } : { kind: "cancelled" }),
    gitHubTokenProvider: async ({ host, reason }) => (reason === "initial" && host ? { accessToken: "gho_x", expiresIn: 28800 } : null),
    createSessionFsProvider: (s) => (s.sessionId ? provider : provider),
    tools: [{ name: "t", handler: (_args: unknown, inv: ToolInvocation) => inv.traceparent ?? "none" }],
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  });
  if (session.capabilities.ui?.elicitation) {
    const ok: boolean = await session.ui.confirm("Deploy?");
    const env: string | null = await session.ui.select("Environment", ["prod", "dev"]);
    const name: string | null = await session.ui.input("Name", { title: "Name", minLength: 1, format: "email" });
    const r = await session.ui.elicitation({ message: "Region", requestedSchema: { type: "object", properties: { region: { type: "string", enum: ["us", "eu"] } }, required: ["region"] } });
    const action: "accept" | "decline" | "cancel" = r.action;
    void [ok, env, name, action, r.content?.region];
  }
  await session.send({ prompt: "hi", tracestate: "k=v", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
  // @ts-expect-error mode is "empty" or "copilot-cli"
  void new CopilotClient({ mode: "full" });
  // @ts-expect-error select needs the options
  void session.ui.select("Environment");
  // @ts-expect-error a command handler gets the context, not a string
  const bad: CommandDefinition = { name: "x", handler: (c: string) => c };
  void bad;
}
