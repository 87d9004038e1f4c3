// The guide's first sample: connect to a running CLI server by URL, open a session, ask.
// Scaffolding around it: userId, req and res stand in for a web framework's request/response.
import { CopilotClient } from "@copilot-hub/node";

const userId = process.env.USER_ID ?? "42";
const req = { body: { message: process.argv[2] ?? "Hello" } };
const res = { json: (body: unknown) => console.log(JSON.stringify(body)) };
const cliUrl = process.env.CLI_URL || "localhost:4321";

// --- as in the guide ---
const client = new CopilotClient({
  cliUrl,
});

const session = await client.createSession({
  sessionId: `user-${userId}-${Date.now()}`,
  model: "gpt-4.1",
});

const response = await session.sendAndWait({ prompt: req.body.message });
res.json({ content: response?.data.content });
// --- end ---

await client.stop();
