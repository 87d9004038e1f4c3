// The chat API of the HA deployment: several instances of this server behind a load balancer,
// over a pool of CLI servers that share their state directory, with session leases in Redis.
// Any instance may get any request of a conversation: each request opens the session (taking
// its lease), runs the turn, and lets go of it.
//
//   POST /chat {"sessionId", "message"}
//        -> {"sessionId", "content", "server", "leaseToken", "instance", "recovered"}
//   GET  /messages?sessionId=...  -> {"userMessages": [...]}
//   GET  /healthz                 -> ok
//   GET  /metrics                 -> the pool's counters (Prometheus text)
//
// Environment: PORT, COPILOT_POOL_URLS (comma-separated host:port; every instance lists the
// same servers, spelled alike), REDIS_URL, COPILOT_CONNECTION_TOKEN (optional: the servers'
// token), COPILOT_PROVIDER_URL (optional: a BYOK model endpoint such as
// http://127.0.0.1:8000/v1; without it the servers' own GitHub authentication is used),
// INSTANCE (this instance's name and lease owner; default: the host name and process id),
// LEASE_LOG (optional: a JSONL file that gets an `acquire` and a `release` record around every
// lease this instance holds).
//
// Run it like the other samples (compiled: `tsc -p examples/node`, then
// `node examples/node/dist/pool-chat-server.mjs`), or directly with Node >= 22.6:
// `node --experimental-strip-types examples/node/pool-chat-server.mts`.
import http from "node:http";
import { hostname } from "node:os";
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CopilotError,
  CopilotPool,
  ErrorCodes,
  setLogHandler,
  type CopilotSession,
  type SessionConfig,
  type SessionEvent,
} from "@copilot-hub/node";

const instance = process.env.INSTANCE || `${hostname()}-${process.pid}`;
const leaseLog = process.env.LEASE_LOG;

const pool = new CopilotPool({
  urls: process.env.COPILOT_POOL_URLS ?? "127.0.0.1:4321",
  connectionToken: process.env.COPILOT_CONNECTION_TOKEN || undefined,
  healthInterval: 1,
  lease: { redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", owner: instance },
});

// The core's warnings (a server lost, a session moved, a lease lost) on stderr.
setLogHandler((level, target, message, fields) => {
  console.error(`${new Date().toISOString()} ${instance} ${level} ${target}: ${message} ${JSON.stringify(fields)}`);
}, { level: "warn" });

const providerUrl = process.env.COPILOT_PROVIDER_URL;
const sessionConfig: SessionConfig = {
  model: "gpt-4.1",
  ...(providerUrl ? { provider: { type: "openai", baseUrl: providerUrl, apiKey: "x" } } : {}),
};

/** Wall-clock nanoseconds (microsecond resolution), comparable across processes. */
function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

function logLease(event: "acquire" | "release", session: CopilotSession) {
  if (!leaseLog) return;
  const rec = { event, sessionId: session.sessionId, token: session.leaseToken ?? null, instance };
  // `t` is written by hand: JSON.stringify has no bigint.
  appendFileSync(leaseLog, `${JSON.stringify(rec).slice(0, -1)},"t":${nowNs()}}\n`);
}

const code = (e: unknown) => (e instanceof CopilotError ? e.code : undefined);

/** Opens a session (creating it on its first request) with its lease; retries while the lease is held or no server is up. */
async function open(sessionId: string, create: boolean): Promise<CopilotSession> {
  const deadline = Date.now() + 60_000;
  let delay = 100;
  for (;;) {
    try {
      let session: CopilotSession;
      try {
        session = await pool.resumeSession(sessionId, sessionConfig);
      } catch (e) {
        if (!create || code(e) !== ErrorCodes.SESSION_NOT_FOUND) throw e;
        session = await pool.createSession({ ...sessionConfig, sessionId });
      }
      logLease("acquire", session);
      return session;
    } catch (e) {
      const again =
        e instanceof CopilotError &&
        (e.isRetriable || e.code === ErrorCodes.LEASE_HELD || e.code === ErrorCodes.NO_SERVER || e.code === ErrorCodes.RECONNECTING);
      if (!again || Date.now() + delay > deadline) throw e;
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }
}

/** Logs the release, then lets go of the session (and its lease). Never throws. */
async function close(session: CopilotSession) {
  logLease("release", session);
  await session.disconnect().catch(() => {});
}

/** A failed turn worth recovering from: the turn may or may not have run, or its server went away. */
function recoverable(e: unknown): boolean {
  return (
    e instanceof CopilotError &&
    (e.code === ErrorCodes.TURN_OUTCOME_UNKNOWN || e.code === ErrorCodes.LEASE_LOST || e.isRetriable)
  );
}

/** What the session's history says about `message`: absent, answered (with the answer), or unanswered. */
function outcome(events: SessionEvent[], message: string): { state: "absent" } | { state: "answered"; content: string } | { state: "unanswered" } {
  let at = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === "user.message" && (e.data as { content?: string }).content === message) {
      at = i;
      break;
    }
  }
  if (at < 0) return { state: "absent" };
  let answer: string | undefined;
  for (const e of events.slice(at + 1)) {
    if (e.type === "user.message" && !String((e.data as { content?: string }).content).startsWith("[continue] ")) break;
    if (e.type === "assistant.message" && !e.agentId) answer = String((e.data as { content?: string }).content ?? "");
  }
  return answer === undefined ? { state: "unanswered" } : { state: "answered", content: answer };
}

async function chat(sessionId: string, message: string) {
  let session = await open(sessionId, true);
  let prompt = message;
  let recovered: false | "resent" | "answered" | "continued" = false;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await session.sendAndWait({ prompt }, 120_000);
        return {
          sessionId,
          content: answer?.data.content ?? "",
          server: session.server,
          leaseToken: session.leaseToken,
          instance,
          recovered,
        };
      } catch (e) {
        if (!recoverable(e) || attempt >= 5) throw e;
        // The server went away during the turn: let go, open the session again (the pool
        // places it on a healthy server) and look at what the history says.
        await close(session);
        session = await open(sessionId, false);
        const state = outcome(await session.getMessages(), message);
        if (state.state === "answered") {
          recovered = "answered";
          return { sessionId, content: state.content, server: session.server, leaseToken: session.leaseToken, instance, recovered };
        }
        prompt = state.state === "absent" ? message : `[continue] ${message}`;
        recovered = state.state === "absent" ? "resent" : "continued";
      }
    }
  } finally {
    await close(session);
  }
}

async function userMessages(sessionId: string) {
  const session = await open(sessionId, false);
  try {
    const events = await session.getMessages();
    return events.filter((e) => e.type === "user.message").map((e) => String((e.data as { content?: string }).content));
  } finally {
    await close(session);
  }
}

async function readJson(req: http.IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

function send(res: http.ServerResponse, status: number, body: unknown, type = "application/json") {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

const app = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  const route = `${req.method} ${url.pathname}`;
  const fail = (e: unknown) => send(res, code(e) === ErrorCodes.INVALID_CONFIG ? 400 : 500, { error: String(e), code: code(e), instance });
  if (route === "POST /chat") {
    readJson(req)
      .then(({ sessionId, message }) => {
        if (typeof sessionId !== "string" || typeof message !== "string") return send(res, 400, { error: "sessionId and message are required" });
        return chat(sessionId, message).then((r) => send(res, 200, r));
      })
      .catch(fail);
  } else if (route === "GET /messages") {
    const sessionId = url.searchParams.get("sessionId");
    if (!sessionId) return send(res, 400, { error: "sessionId is required" });
    userMessages(sessionId).then((m) => send(res, 200, { userMessages: m }), fail);
  } else if (route === "GET /healthz") {
    send(res, 200, "ok", "text/plain");
  } else if (route === "GET /metrics") {
    send(res, 200, pool.metricsPrometheus(), "text/plain; version=0.0.4");
  } else {
    send(res, 404, { error: "not found" });
  }
});

// Sessions are opened per request: the pool connects on first use; start it now so that the
// first request does not pay for it (it succeeds as soon as one server answers).
await pool.start().catch((e) => console.error(`${instance}: no CLI server answered yet (${e.message}); retrying in the background`));

const port = Number(process.env.PORT ?? 3000);
app.listen(port, "127.0.0.1", () => {
  const address = app.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : port}`);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    app.close();
    app.closeAllConnections();
    void pool.stop().then(() => process.exit(0));
  });
}
