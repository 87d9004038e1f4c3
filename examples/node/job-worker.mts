// The guide's background worker: one session per job, destroyed when the job is done.
// The queue here is a JSON array in $JOBS; results go to stdout as JSON lines.
import { CopilotClient } from "@copilot-hub/node";

interface Job {
  id: string;
  prompt: string;
}

async function saveResult(jobId: string, content: string | undefined) {
  console.log(JSON.stringify({ jobId, content }));
}

// --- as in the guide ---
const client = new CopilotClient({
  cliUrl: process.env.CLI_URL || "localhost:4321",
});

// Process jobs from a queue
async function processJob(job: Job) {
  const session = await client.createSession({
    sessionId: `job-${job.id}`,
    model: "gpt-4.1",
  });

  const response = await session.sendAndWait({
    prompt: job.prompt,
  });

  await saveResult(job.id, response?.data.content);
  await session.destroy(); // Clean up after job completes
}
// --- end ---

const queue: Job[] = JSON.parse(process.env.JOBS ?? "[]");
const concurrency = Number(process.env.CONCURRENCY ?? 2);
const workers = Array.from({ length: concurrency }, async () => {
  for (let job = queue.shift(); job; job = queue.shift()) await processJob(job);
});
await Promise.all(workers);
await client.stop();
