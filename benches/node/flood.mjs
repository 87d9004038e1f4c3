// Delivery benchmark, Node figure: connects to benches' flood_peer (PORT, N), counts the
// assistant.message_delta events delivered into an on() callback, checks their order, and prints
// one JSON line (events per second from send to the turn's end delivered).
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { CopilotClient } = require(process.env.COPILOT_NODE_PACKAGE || '../../bindings-node');

const [port, n] = process.argv.slice(2).map(Number);
const client = new CopilotClient({ cliUrl: `127.0.0.1:${port}` });
await client.start();
const session = await client.createSession({});
let count = 0;
let inOrder = true;
let idle;
const idleSeen = new Promise((r) => { idle = r; });
session.on((ev) => {
  if (ev.type === 'assistant.message_delta') {
    if (ev.data.deltaContent !== `${count} `) inOrder = false;
    count++;
  } else if (ev.type === 'session.idle') idle();
});
const t0 = process.hrtime.bigint();
await session.sendAndWait({ prompt: 'flood' }, 600_000);
await idleSeen;
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ lang: 'node', events: count, expected: n, in_order: inOrder, seconds: +secs.toFixed(4), per_sec: Math.round(count / secs) }));
await client.stop();
