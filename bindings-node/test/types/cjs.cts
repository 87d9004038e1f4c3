// The CommonJS view of the types (checked with tsc --noEmit; never run).
import sdk = require("@copilot-hub/node");

const client = new sdk.CopilotClient({ cliPath: "/usr/bin/copilot", useStdio: true, env: { HOME: process.env.HOME } });
async function main(): Promise<string | undefined> {
  const s = await client.createSession({ model: "gpt-4.1" });
  const a = await s.sendAndWait({ prompt: "x" });
  await client.stop();
  return a?.data.content;
}
void main;
const code: sdk.CopilotErrorCode = sdk.ErrorCodes.TIMEOUT;
void code;
const viaConnection = new sdk.CopilotClient({ connection: sdk.RuntimeConnection.forUri("127.0.0.1:1") });
const conn: sdk.RuntimeConnection = sdk.RuntimeConnection.forStdio();
void viaConnection;
void conn;
