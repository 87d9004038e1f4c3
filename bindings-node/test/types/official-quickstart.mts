// Type-level test of the official README's quickstart (checked with tsc --noEmit; never run):
// the official code typed as written, apart from the import line.
import { z } from "zod";
import { CopilotClient, approveAll, defineTool, RuntimeConnection, type PermissionHandler } from "@copilot-hub/node";

export async function quickstart(): Promise<string[]> {
  const client = new CopilotClient({ connection: RuntimeConnection.forUri("localhost:4321") });
  await client.start();
  const session = await client.createSession({
    model: "gpt-5",
    onPermissionRequest: approveAll,
  });
  const printed: string[] = [];
  const done = new Promise<void>((resolve) => {
    session.on("assistant.message", (event) => {
      printed.push(event.data.content);
    });
    session.on("session.idle", () => {
      resolve();
    });
  });
  const messageId: string = await session.send({ prompt: "What is 2+2?" });
  await done;
  const unsubscribe: () => void = session.on((event) => void event.type);
  unsubscribe();
  await session.disconnect();
  const errors: Error[] = await client.stop();
  return [messageId, ...printed, ...errors.map((e) => e.message)];
}

const onPermissionRequest: PermissionHandler = (request, invocation) => {
  if (request.kind === "shell") {
    return { kind: "reject", feedback: "Shell commands are not allowed." };
  }
  void invocation.sessionId;
  return { kind: "approve-once" };
};

export async function tools(client: CopilotClient): Promise<void> {
  await using session = await client.createSession({
    model: "gpt-5",
    onPermissionRequest,
    tools: [
      defineTool("lookup_issue", {
        description: "Fetch issue details from our tracker",
        parameters: z.object({
          id: z.string().describe("Issue identifier"),
        }),
        handler: async ({ id }: { id: string }, invocation) => ({ id, by: invocation.toolName }),
      }),
    ],
    hooks: {
      // The official form: the hook input is the first argument.
      onPreToolUse: async (input, invocation) => {
        const name: string = input.toolName;
        const when: number = input.timestamp;
        void [when, invocation.sessionId];
        return {
          permissionDecision: name === "bash" ? "deny" : "allow",
          modifiedArgs: input.toolArgs,
          additionalContext: "Extra context for the model",
        };
      },
      onUserPromptSubmitted: async (input) => ({ additionalContext: `${input.prompt.length} chars` }),
      // @ts-expect-error the preToolUse input has no `prompt`, on the payload either
      onPostToolUse: async (input: { prompt: number }) => void input,
    },
  });
  session.on("tool.execution_complete", (event) => {
    const ok: boolean = event.data.success;
    void ok;
  });
  const answer = await session.sendAndWait({ prompt: "Look up A-1" });
  void answer?.data.content;
}
