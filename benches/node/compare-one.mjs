// One SDK in one Node process (run by compare.mjs): connects to CLI_URL, opens one streaming
// session on the fake model (PROVIDER), runs a warm-up turn and TURNS turns of `SLOW DELTAS 0`,
// and prints a JSON array with one entry per turn: deltas delivered into the callback, deltas/s
// from the first to the last delta callback, the tail (last delta callback -> sendAndWait
// resolved, ms; mostly the CLI's own work after the stream), the settle time (session.idle
// callback -> sendAndWait resolved, ms: the SDK's own part of the tail), the process CPU of the turn (user + system, every thread, ms) and the turn's
// wall time (ms).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const { SDK_NAME, SDK_PATH, CLI_URL, PROVIDER } = process.env;
const DELTAS = Number(process.env.DELTAS);
const TURNS = Number(process.env.TURNS);
const official = SDK_NAME === 'official';
const sdk = createRequire(join(SDK_PATH, 'package.json'))(SDK_PATH);

const client = new sdk.CopilotClient({ cliUrl: CLI_URL });
await client.start();
const config = { model: 'gpt-4.1', provider: JSON.parse(PROVIDER), streaming: true };
// The official SDK requires a permission handler; this package does not (none is asked here).
const session = await client.createSession(official ? { ...config, onPermissionRequest: sdk.approveAll } : config);

let count = 0;
let chars = 0;
let first = 0;
let last = 0;
let idle = 0;
session.on('assistant.message_delta', (ev) => {
  last = performance.now();
  if (count++ === 0) first = last;
  chars += ev.data.deltaContent.length;
});
session.on('session.idle', () => {
  idle = performance.now();
});

async function turn(n) {
  count = 0;
  chars = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const answer = await session.sendAndWait({ prompt: `SLOW ${n} 0` }, 300000);
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  if (chars !== answer.data.content.length) throw new Error(`${SDK_NAME}: the deltas do not make up the answer`);
  return {
    deltas: count,
    perSec: (count - 1) / ((last - first) / 1000),
    tailMs: end - last,
    settleMs: end - idle,
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs: end - t0,
  };
}

// A full-size warm-up turn: both SDKs are measured JIT-warm.
await turn(DELTAS);
const results = [];
for (let i = 0; i < TURNS; i++) results.push(await turn(DELTAS));
await session.disconnect();
await client.stop();
console.log(JSON.stringify(results));
