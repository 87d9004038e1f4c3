// The guide's per-user GitHub token sample (a client per request, with the user's token), on
// node:http. A toy auth middleware reads the user from headers.
import http from "node:http";
import { CopilotClient } from "@copilot-hub/node";

interface User { id: string; githubToken: string }
type AuthedRequest = http.IncomingMessage & { user: User; body: { message: string } };

async function authMiddleware(req: http.IncomingMessage): Promise<AuthedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const authed = req as AuthedRequest;
  authed.body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  authed.user = {
    id: String(req.headers["x-user-id"] ?? "anonymous"),
    githubToken: String(req.headers.authorization ?? "").replace(/^Bearer /, ""),
  };
  return authed;
}

const json = (res: http.ServerResponse) => (body: unknown) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

// --- as in the guide (the route body) ---
async function chatRoute(req: AuthedRequest, res: { json: (body: unknown) => void }) {
  const client = new CopilotClient({
    cliUrl: process.env.CLI_URL || "localhost:4321",
    githubToken: req.user.githubToken,
    useLoggedInUser: false,
  });

  const session = await client.createSession({
    sessionId: `user-${req.user.id}-chat`,
    model: "gpt-4.1",
  });

  const response = await session.sendAndWait({
    prompt: req.body.message,
  });

  res.json({ content: response?.data.content });
  await client.stop(); // not in the guide: release the per-request connection
}
// --- end ---

const app = http.createServer(async (req, res) => {
  try {
    if (req.method !== "POST" || req.url !== "/chat") throw new Error("not found");
    await chatRoute(await authMiddleware(req), { json: json(res) });
  } catch (err: any) {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: String(err), code: err?.code }));
  }
});
app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = app.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : ""}`);
});
process.on("SIGTERM", () => app.close());
