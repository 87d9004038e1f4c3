// The orchestrator of compare.sh: one fake model, one CLI server (`copilot --headless --port 0`),
// then every SDK in its own Node processes (compare-one.mjs), alternating; prints medians and
// the ratios of @copilot-hub/node to the official SDK.
//   node benches/node/compare.mjs [--deltas N] [--turns N] [--rounds N]
// Environment: COPILOT_CLI_PATH, FAKE_MODEL_BIN, OFFICIAL_SDK, HUB_SDK, HEAD_SDK (optional).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const opt = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const DELTAS = opt('deltas', 2000);
const TURNS = opt('turns', 5);
const ROUNDS = opt('rounds', 3);

const SDKS = [
  { name: 'official', path: process.env.OFFICIAL_SDK },
  { name: 'hub', path: process.env.HUB_SDK },
  { name: 'hub@HEAD', path: process.env.HEAD_SDK },
].filter((s) => s.path);
for (const v of ['COPILOT_CLI_PATH', 'FAKE_MODEL_BIN', 'OFFICIAL_SDK', 'HUB_SDK']) {
  if (!process.env[v]) throw new Error(`${v} is not set (run benches/node/compare.sh)`);
}

/** Spawns `cmd`; resolves with the child once `pattern` matched its output (group 1). */
function startServer(cmd, args, opts, pattern) {
  const child = spawn(cmd, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const on = (d) => {
      buf += d;
      const m = buf.match(pattern);
      if (m) resolve({ child, value: m[1] });
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', (c) => reject(new Error(`${cmd} exited (${c}): ${buf}`)));
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'node-sdk-compare-'));
const home = join(scratch, 'home');
const work = join(scratch, 'work');
mkdirSync(home);
mkdirSync(work);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COPILOT_')));
const model = await startServer(process.env.FAKE_MODEL_BIN, [], {}, /listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/);
const cli = await startServer(
  process.env.COPILOT_CLI_PATH,
  ['--headless', '--port', '0', '--no-auto-update'],
  { cwd: work, env: { ...env, HOME: home } },
  /listening on port (\d+)/i,
);
const cliUrl = `127.0.0.1:${cli.value}`;
const provider = JSON.stringify({ type: 'openai', baseUrl: model.value, apiKey: 'fake-key' });

function runOne(sdk) {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'compare-one.mjs')], {
    env: { ...process.env, SDK_NAME: sdk.name, SDK_PATH: sdk.path, CLI_URL: cliUrl, PROVIDER: provider, DELTAS: String(DELTAS), TURNS: String(TURNS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${sdk.name} run failed (${code}): ${out}`))));
  });
}

const turns = Object.fromEntries(SDKS.map((s) => [s.name, []]));
try {
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so that neither SDK always runs first.
    for (let i = 0; i < SDKS.length; i++) {
      const sdk = SDKS[(i + r) % SDKS.length];
      const res = await runOne(sdk);
      for (const t of res) {
        if (t.deltas !== DELTAS) throw new Error(`${sdk.name}: ${t.deltas} deltas delivered, expected ${DELTAS}`);
      }
      turns[sdk.name].push(...res);
    }
  }
} finally {
  cli.child.kill();
  model.child.kill();
  rmSync(scratch, { recursive: true, force: true });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = Object.fromEntries(
  Object.entries(turns).map(([name, ts]) => [
    name,
    {
      perSec: median(ts.map((t) => t.perSec)),
      tailMs: median(ts.map((t) => t.tailMs)),
      settleMs: median(ts.map((t) => t.settleMs)),
      cpuMs: median(ts.map((t) => t.cpuMs)),
      wallMs: median(ts.map((t) => t.wallMs)),
    },
  ]),
);

console.log(`${DELTAS} deltas per turn (SLOW ${DELTAS} 0, streaming), ${TURNS} turns x ${ROUNDS} rounds per SDK, medians; CLI ${cliUrl}`);
const row = (cols) => console.log(cols.map((c, i) => (i === 0 ? String(c).padEnd(10) : String(c).padStart(14))).join(''));
row(['sdk', 'deltas/s', 'tail ms', 'idle->res ms', 'CPU ms/turn', 'CPU us/delta', 'turn ms']);
for (const [name, s] of Object.entries(stats)) {
  row([name, Math.round(s.perSec), s.tailMs.toFixed(1), s.settleMs.toFixed(3), s.cpuMs.toFixed(1), ((s.cpuMs * 1000) / DELTAS).toFixed(1), s.wallMs.toFixed(1)]);
}
const base = stats.official;
console.log('ratios to the official SDK (deltas/s: higher is better; the others: lower is better)');
row(['sdk', 'deltas/s', 'tail', 'idle->res', 'CPU', '', 'turn']);
for (const [name, s] of Object.entries(stats)) {
  if (name === 'official') continue;
  const r = (k) => (s[k] / base[k]).toFixed(2);
  row([name, r('perSec'), r('tailMs'), r('settleMs'), r('cpuMs'), '', r('wallMs')]);
}
