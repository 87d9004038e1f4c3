// The guide's API server with create-or-resume sessions, on node:http instead of express.
//   POST /api/chat {"sessionId": "...", "message": "..."} -> {"sessionId": "...", "content": "..."}
import http from "node:http";
import { CopilotClient } from "@copilot-hub/node";

// Single shared CLI connection
const client = new CopilotClient({
  cliUrl: process.env.CLI_URL || "localhost:4321",
});

async function readJson(req: http.IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function chat(req: http.IncomingMessage, res: http.ServerResponse) {
  const { sessionId, message } = await readJson(req);

  // Create or resume session
  let session;
  try {
    session = await client.resumeSession(sessionId);
  } catch {
    session = await client.createSession({
      sessionId,
      model: "gpt-4.1",
    });
  }

  const response = await session.sendAndWait({ prompt: message });
  sendJson(res, 200, {
    sessionId,
    content: response?.data.content,
  });
}

const app = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/api/chat") {
    chat(req, res).catch((err) => sendJson(res, 500, { error: String(err), code: err?.code }));
  } else {
    sendJson(res, 404, { error: "not found" });
  }
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, "127.0.0.1", () => {
  const address = app.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : port}`);
});

// Graceful shutdown: close the HTTP server and the CLI connection.
process.on("SIGTERM", () => {
  app.close();
  void client.stop();
});
