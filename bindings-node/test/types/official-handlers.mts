// Type-level tests of the official handler forms and `await using` (checked with tsc --noEmit;
// never run).
import {
  CopilotClient,
  CopilotPool,
  approveAll,
  type HandlerInvocation,
  type PermissionDecision,
  type PermissionHandler,
  type PermissionPayload,
  type UserInputHandler,
} from "@copilot-hub/node";

// The official two-argument forms, next to the one-argument ones.
const perm: PermissionHandler = (request, invocation) => {
  const sid: string = invocation.sessionId;
  const kind: string = request.kind;
  // The request's own fields are readable on the payload (unknown: narrow them).
  const cmd = typeof request.fullCommandText === "string" ? request.fullCommandText : "";
  return sid && kind && cmd ? { kind: "approve-once" } : { kind: "reject", feedback: "no" };
};
const permOne: PermissionHandler = (request) => (request.kind === "shell" ? "reject" : "approve-once");
const ask: UserInputHandler = async (request, invocation) => ({
  answer: `${request.choices[0] ?? "x"}@${invocation.sessionId}`,
  wasFreeform: false,
});
// @ts-expect-error the invocation carries a sessionId string, nothing else
const bad: PermissionHandler = (_r, inv: { sessionId: number }) => ({ kind: "approve-once" });
void bad;
// @ts-expect-error an unknown decision kind
const badKind: PermissionDecision = { kind: "approve-forever" };
void badKind;
const direct: PermissionDecision = approveAll({} as PermissionPayload, { sessionId: "s" } satisfies HandlerInvocation);
void direct;

export async function scoped(): Promise<string | undefined> {
  await using client = new CopilotClient({ cliUrl: "127.0.0.1:1" });
  await using session = await client.createSession({
    onPermissionRequest: perm,
    onUserInputRequest: ask,
    hooks: { onPreToolUse: (_input, invocation) => ({ additionalContext: invocation.sessionId }) },
  });
  await using pool = new CopilotPool({ urls: ["127.0.0.1:1"] });
  void pool;
  void permOne;
  const a = await session.sendAndWait("x");
  return a?.data.content;
}
const dispose: () => Promise<void> = new CopilotClient()[Symbol.asyncDispose];
void dispose;
