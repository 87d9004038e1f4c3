// The guide's session cleanup by age. `node cleanup.mjs <maxAgeMs>` runs it once; with
// CLEANUP_ONCE unset it then keeps running every hour, as in the guide.
import { CopilotClient } from "@copilot-hub/node";

const client = new CopilotClient({
  cliUrl: process.env.CLI_URL || "localhost:4321",
});

// --- as in the guide ---
// Clean up expired sessions periodically
async function cleanupSessions(maxAgeMs: number) {
  const sessions = await client.listSessions();
  const now = Date.now();

  for (const session of sessions) {
    const age = now - new Date(session.createdAt).getTime();
    if (age > maxAgeMs) {
      await client.deleteSession(session.sessionId);
    }
  }
}
// --- end ---

const before = (await client.listSessions()).length;
await cleanupSessions(Number(process.argv[2] ?? 24 * 60 * 60 * 1000));
const after = (await client.listSessions()).length;
console.log(JSON.stringify({ before, after }));

if (process.env.CLEANUP_ONCE) {
  await client.stop();
} else {
  // Run every hour
  setInterval(() => cleanupSessions(24 * 60 * 60 * 1000), 60 * 60 * 1000);
}
