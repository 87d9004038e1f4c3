// The guide's bring-your-own-key sample: the session's model provider is yours.
// OPENAI_BASE_URL (not in the guide) lets the tests point it at a local fake model.
import { CopilotClient } from "@copilot-hub/node";

const client = new CopilotClient({
  cliUrl: process.env.CLI_URL || "localhost:4321",
});

const session = await client.createSession({
  model: "gpt-4.1",
  provider: {
    type: "openai",
    baseUrl: process.env.OPENAI_BASE_URL || "https://api.openai.com/v1",
    apiKey: process.env.OPENAI_API_KEY,
  },
});

const response = await session.sendAndWait({ prompt: process.argv[2] ?? "Hello" });
console.log(JSON.stringify({ content: response?.data.content }));
await client.stop();
