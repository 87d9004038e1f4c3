// Type-level tests of the typed hooks (checked with tsc --noEmit; never run): each hook type of
// the generated `HookTypes` table types its handler's input and output.
import {
  CopilotClient,
  HOOK_TYPES,
  type HookHandler,
  type TypedHookType,
  type PreToolUseHookInput,
  type PreToolUseHookOutput,
  type SessionHooks,
} from "@copilot-hub/node";

const pre: HookHandler<"preToolUse"> = ({ input, hookType }, invocation) => {
  const name: string = input.toolName;
  const ts: number = input.timestamp;
  const cwd: string = input.cwd;
  const t: "preToolUse" = hookType;
  void [ts, cwd, t, invocation.sessionId];
  return name === "bash" ? { permissionDecision: "deny", permissionDecisionReason: "no shell" } : undefined;
};

const hooks: SessionHooks = {
  onPreToolUse: pre,
  userPromptSubmitted: async ({ input }) => ({ additionalContext: `prompt was ${input.prompt.length} chars` }),
  onPostToolUse: ({ input }) => {
    const text: string | undefined = input.toolResult?.textResultForLlm;
    return text ? { additionalContext: text } : null;
  },
  onErrorOccurred: () => ({ errorHandling: "skip" }),
  onAgentStop: () => ({ decision: "block" }),
  // Other spellings and the catch-all: untyped payloads.
  session_end: (req) => ({ anything: req.hookType }),
  onHook: (req) => void req.input,
};

// @ts-expect-error a wrong output field: preToolUse has no `permission` (it is `permissionDecision`)
const typo: SessionHooks = { onPreToolUse: () => ({ permission: "deny" }) };
// @ts-expect-error a decision the schema does not know
const badDecision: SessionHooks = { preToolUse: () => ({ permissionDecision: "maybe" }) };
// @ts-expect-error additionalContext is a string
const badContext: SessionHooks = { onUserPromptSubmitted: async () => ({ additionalContext: 42 }) };
// @ts-expect-error the preToolUse input has no `prompt`
const badInput: HookHandler<"preToolUse"> = ({ input }) => void input.prompt;
void [typo, badDecision, badContext, badInput];

const out: PreToolUseHookOutput = { permissionDecision: "allow" };
const inp = {} as PreToolUseHookInput;
const types = Object.keys(HOOK_TYPES) as TypedHookType[];
const inputName: string = HOOK_TYPES.preToolUse.input;
void [out, inp, types, inputName];

export async function run(): Promise<void> {
  await using client = new CopilotClient({ cliUrl: "127.0.0.1:1" });
  await using session = await client.createSession({ onPermissionRequest: () => "approve-once", hooks });
  void session;
}
