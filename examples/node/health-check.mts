// The guide's health check, run once: prints {"healthy": true|false}.
import { CopilotClient } from "@copilot-hub/node";

const client = new CopilotClient({
  cliUrl: process.env.CLI_URL || "localhost:4321",
});

// --- as in the guide ---
// Periodic health check
async function checkCLIHealth(): Promise<boolean> {
  try {
    const status = await client.getStatus();
    return status !== undefined;
  } catch {
    return false;
  }
}
// --- end ---

console.log(JSON.stringify({ healthy: await checkCLIHealth() }));
await client.stop();
