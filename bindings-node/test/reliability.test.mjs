// Surviving the CLI, against the real CLI (the Node twin of core/tests/reliability.rs): a CLI
// killed and started again on the same port (idle and mid-turn), a hung CLI (SIGSTOP), a lossy
// link (tests/chaos proxy), a spawned CLI that keeps dying (restart budget, no orphans),
// kill/restart cycles that must not leak, hostile peers (tests/chaos peer), cancellation
// reaching a running handler through its AbortSignal, and the new options. Every wait is
// bounded; every process started here is killed, also on failure.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { CopilotClient, CopilotError, ErrorCodes } from '@copilot-hub/node';
import {
  announcement,
  bounded,
  cliEnv,
  cliPath,
  failure,
  freePort,
  ownCliOptions,
  sandbox,
  startFakeModel,
  waitDead,
  waitForEvent,
} from './helpers.mjs';

const CONNECTION_EVENTS = ['connection.lost', 'connection.reconnecting', 'connection.restored', 'connection.gave_up'];

/** Quick reconnection for tests (seconds, as the client options take them). */
const FAST = { initialDelay: 0.05, maxDelay: 0.3, maxAttempts: 200, callWait: 20 };

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A CLI server this test runs itself (`--port`), to kill and start again on the same port. */
class ExternalCli {
  static async start(port) {
    const cli = new ExternalCli();
    cli.port = port ?? (await freePort());
    await cli.#spawn();
    cleanups.push(() => cli.kill());
    return cli;
  }

  async #spawn() {
    const child = spawn(cliPath(), ['--headless', '--no-auto-update', '--port', String(this.port)], {
      env: cliEnv(),
      cwd: sandbox().work,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    await announcement(child, /listening on port/, 'the CLI');
  }

  get pid() {
    return this.child.pid;
  }

  get url() {
    return `127.0.0.1:${this.port}`;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig) {
    if (this.alive) process.kill(this.child.pid, sig);
  }

  /** SIGSTOP, then wait until every thread of the CLI is stopped (the signal is asynchronous). */
  async stop() {
    this.signal('SIGSTOP');
    const stopped = () => {
      try {
        return readdirSync(`/proc/${this.pid}/task`).every((t) =>
          /^[tT]$/.test(readFileSync(`/proc/${this.pid}/task/${t}/stat`, 'utf8').split(') ').pop()[0]),
        );
      } catch {
        return false;
      }
    };
    const end = Date.now() + 5000;
    while (!stopped()) {
      assert.ok(Date.now() < end, `the CLI (${this.pid}) did not stop`);
      await sleep(10);
    }
  }

  /** SIGKILL, and reap. */
  async kill() {
    if (!this.child) return;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await bounded(this.exited, 10000, 'the killed CLI exiting');
  }

  /** A new server on the same port. */
  async restart() {
    await this.kill();
    await this.#spawn();
  }
}

let external;
/**
 * The CLI server the tests of this file share (starting one takes seconds): tests that kill
 * it start it again on the same port, and leave it running.
 */
async function externalCli() {
  external ??= await ExternalCli.start();
  if (!external.alive) await external.restart();
  return external;
}

/** A tests/chaos instance (`proxy --target N` or `peer --mode M`): `port`, `cmd(line)`, `close()`. */
async function chaos(args) {
  const bin = process.env.COPILOT_CHAOS_PATH;
  if (!bin) throw new Error('COPILOT_CHAOS_PATH is not set (bindings-node/test.sh sets it)');
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await bounded(lines.next(), 10000, 'copilot-chaos announcing its port');
  const m = /^listening on port (\d+)$/.exec(first.value ?? '');
  assert.ok(m, `copilot-chaos said ${JSON.stringify(first.value)}`);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    child.stdin.end();
    await bounded(exited, 10000, 'copilot-chaos exiting').catch(() => child.kill('SIGKILL'));
  };
  cleanups.push(close);
  return {
    port: Number(m[1]),
    async cmd(line) {
      child.stdin.write(`${line}\n`);
      const answer = (await bounded(lines.next(), 10000, `copilot-chaos: ${line}`)).value;
      assert.ok(answer.startsWith(`ok ${line.split(' ')[0]}`), `copilot-chaos: ${line} -> ${answer}`);
      return answer;
    },
    close,
  };
}

/** The client's lifecycle events of `types`, kept in order; `next(type)` skips to the next one. */
function lifecycle(client, types = CONNECTION_EVENTS) {
  const seen = [];
  let at = 0;
  let wake = null;
  const off = client.on(types, (e) => {
    seen.push(e);
    if (wake) wake();
  });
  return {
    seen,
    off,
    async next(type, ms) {
      const end = Date.now() + ms;
      for (;;) {
        while (at < seen.length) {
          const e = seen[at++];
          if (e.type === type) return e;
        }
        const left = end - Date.now();
        if (left <= 0) throw new Error(`no ${type} within ${ms} ms (seen: ${seen.map((e) => e.type).join(', ')})`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            wake = null;
            resolve();
          };
        });
      }
    },
  };
}

/** Open file descriptors, threads and resident memory (KiB) of this process. */
function resources() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name) => Number(status.split('\n').find((l) => l.startsWith(name))?.split(/\s+/)[1] ?? 0);
  return { fds: readdirSync('/proc/self/fd').length, threads: field('Threads:'), rssKiB: field('VmRSS:') };
}

/** Live children of this process whose command line contains `needle`. */
function childrenMatching(needle) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z' && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) {
        out.push(Number(name));
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

const cfg = (model, extra = {}) => ({ model: 'gpt-4.1', provider: model.provider, ...extra });

const echoTool = {
  name: 'echo_tool',
  description: 'Echoes its argument',
  parameters: { type: 'object', properties: { v: { type: 'string' } } },
  handler: (args) => `echoed ${JSON.stringify(args)}`,
};

async function answer(session, prompt) {
  const ev = await bounded(session.sendAndWait(prompt, 60000), 70000, prompt);
  assert.ok(ev, `${prompt}: no answer`);
  return ev.data.content;
}

async function withModel(fn) {
  const model = await startFakeModel();
  try {
    return await fn(model);
  } finally {
    model.close();
  }
}

test('cli_restarted_on_the_same_port_idle_and_mid_turn', () =>
  withModel(async (model) => {
    const cli = await externalCli();
    const client = new CopilotClient({ cliUrl: cli.url, reconnect: FAST, startTimeout: 5 });
    try {
      const life = lifecycle(client);
      const session = await client.createSession(cfg(model, { tools: [echoTool] }));
      const answers = [];
      session.on('assistant.message', (e) => answers.push(e.data.content));
      assert.equal(await answer(session, 'REPLY one'), 'one');
      assert.deepEqual(answers, ['one']);

      // Killed while idle, started again on the same port.
      await cli.kill();
      const lost = await life.next('connection.lost', 5000);
      assert.equal(lost.sessionId, '');
      assert.equal(lost.metadata.code, 'transport_closed', JSON.stringify(lost));
      assert.equal(typeof lost.metadata.error, 'string');
      const reconnecting = await life.next('connection.reconnecting', 5000);
      assert.ok(reconnecting.metadata.attempt >= 1 && reconnecting.metadata.maxAttempts === 200, JSON.stringify(reconnecting));
      assert.equal(typeof reconnecting.metadata.delayMs, 'number');
      // A call made while reconnecting waits for the connection (callWait).
      const waiting = client.ping('during');
      await cli.restart();
      const restored = await life.next('connection.restored', 30000);
      assert.equal(restored.metadata.sessionsResumed, 1, JSON.stringify(restored));
      assert.equal(restored.metadata.sessionsLost, 0);
      assert.equal(restored.metadata.restarted, false);
      assert.equal(typeof restored.metadata.downtimeMs, 'number');
      assert.equal((await bounded(waiting, 10000, 'the waiting ping')).message, 'pong: during');
      assert.equal(await answer(session, 'REPLY two'), 'two');
      assert.deepEqual(answers, ['one', 'two'], 'the subscription made before survived');
      // The session's own tool runs without a permission handler.
      const text = await answer(session, 'CALL echo_tool {"v":"x"}');
      assert.ok(text.includes('echoed'), text);

      // Killed mid-turn: the waiting call fails at once with turn_outcome_unknown.
      const turnStarted = waitForEvent(session, (e) => e.type === 'assistant.turn_start', 30000);
      const turn = session.sendAndWait('HANG', 120000).then(
        () => assert.fail('HANG answered'),
        (e) => ({ e, at: performance.now() }),
      );
      await turnStarted;
      const killed = performance.now();
      process.kill(cli.pid, 'SIGKILL');
      const { e, at } = await bounded(turn, 10000, 'send_and_wait after the kill');
      assert.equal(e.code, ErrorCodes.TURN_OUTCOME_UNKNOWN, e.message);
      assert.ok(e.message.includes(session.sessionId), e.message);
      assert.equal(e.isRetriable, false);
      const took = at - killed;
      console.log(`mid-turn kill: sendAndWait failed ${took.toFixed(1)} ms after the kill`);
      assert.ok(took < 1000, `took ${took} ms`);
      await cli.restart();
      await life.next('connection.restored', 30000);
      assert.equal(await answer(session, 'REPLY three'), 'three');
      assert.ok(answers.includes('three'));
      life.off();
    } finally {
      await client.forceStop();
    }
  }));

test('hung_cli_is_detected_by_the_heartbeat', async () => {
  const cli = await externalCli();
  const client = new CopilotClient({
    cliUrl: cli.url,
    reconnect: FAST,
    heartbeatInterval: 0.5,
    heartbeatTimeout: 1,
    startTimeout: 2,
  });
  try {
    await client.start();
    await client.ping();
    await cli.stop();
    const started = performance.now();
    // No per-call deadline: only the heartbeat can end this call.
    const e = await failure(client.rpc('session.list', {}, { timeout: 0 }), 10000, 'a call to a stopped CLI');
    const took = performance.now() - started;
    console.log(`SIGSTOP detected after ${took.toFixed(0)} ms: ${e.message}`);
    assert.equal(e.code, ErrorCodes.TIMEOUT, e.message);
    assert.equal(e.isRetriable, true);
    assert.ok(took < 3000, `took ${took} ms`);
    cli.signal('SIGCONT');
    const pong = await bounded(
      (async () => {
        for (;;) {
          try {
            return await client.ping('back');
          } catch (err) {
            assert.ok(err.isRetriable, `${err.code}: ${err.message}`);
            await sleep(100);
          }
        }
      })(),
      30000,
      'the client recovering after SIGCONT',
    );
    assert.equal(pong.message, 'pong: back');
  } finally {
    cli.signal('SIGCONT');
    await client.forceStop();
  }
});

test('lossy_link_through_the_proxy', () =>
  withModel(async (model) => {
    const cli = await externalCli();
    const proxy = await chaos(['proxy', '--target', String(cli.port)]);
    const client = new CopilotClient({
      cliUrl: `127.0.0.1:${proxy.port}`,
      reconnect: { ...FAST, callWait: 1 },
      heartbeatInterval: 0.5,
      heartbeatTimeout: 1,
      startTimeout: 2,
    });
    try {
      const life = lifecycle(client);
      const session = await client.createSession(cfg(model));
      assert.equal(await answer(session, 'REPLY p1'), 'p1');

      // reset mid-turn: turn_outcome_unknown; the proxy still forwards, so it comes back.
      let started = waitForEvent(session, (e) => e.type === 'assistant.turn_start', 30000);
      let turn = failure(session.sendAndWait('HANG', 60000), 15000, 'HANG across a reset');
      await started;
      await proxy.cmd('reset');
      let e = await turn;
      assert.equal(e.code, ErrorCodes.TURN_OUTCOME_UNKNOWN, e.message);
      assert.equal((await life.next('connection.lost', 5000)).metadata.code, 'transport_closed');
      await life.next('connection.restored', 30000);
      assert.equal(await answer(session, 'REPLY p2'), 'p2');

      // drop while refusing new connections: the turn fails, a call made while reconnecting
      // fails with `reconnecting` after callWait, and `pass` brings it back.
      started = waitForEvent(session, (e2) => e2.type === 'assistant.turn_start', 30000);
      turn = failure(session.sendAndWait('HANG', 60000), 15000, 'HANG across a drop');
      await started;
      await proxy.cmd('refuse');
      await proxy.cmd('drop');
      e = await turn;
      assert.equal(e.code, ErrorCodes.TURN_OUTCOME_UNKNOWN, e.message);
      assert.equal((await life.next('connection.lost', 5000)).metadata.code, 'transport_closed');
      await life.next('connection.reconnecting', 5000);
      e = await failure(client.ping('while away'), 5000, 'ping while reconnecting');
      assert.equal(e.code, ErrorCodes.RECONNECTING, e.message);
      assert.equal(e.isRetriable, true);
      await proxy.cmd('pass');
      await life.next('connection.restored', 30000);
      assert.equal((await client.ping('back')).message, 'pong: back');
      assert.equal(await answer(session, 'REPLY p3'), 'p3');

      // blackhole: only the heartbeat can tell; the call fails with `timeout` within its bound.
      await proxy.cmd('blackhole');
      const t = performance.now();
      e = await failure(client.rpc('session.list', {}, { timeout: 0 }), 10000, 'a call into a blackhole');
      const took = performance.now() - t;
      console.log(`blackhole detected after ${took.toFixed(0)} ms`);
      assert.equal(e.code, ErrorCodes.TIMEOUT, e.message);
      assert.ok(took < 3500, `took ${took} ms`);
      assert.equal((await life.next('connection.lost', 5000)).metadata.code, 'timeout');
      await proxy.cmd('pass');
      await life.next('connection.restored', 30000);
      assert.equal(await answer(session, 'REPLY p4'), 'p4');

      // delay: slower, still fine.
      await proxy.cmd('delay 200');
      const d = performance.now();
      assert.equal((await bounded(client.ping('slow'), 10000, 'ping through the delay')).message, 'pong: slow');
      const rtt = performance.now() - d;
      console.log(`ping through a 200 ms delay each way: ${rtt.toFixed(0)} ms`);
      assert.ok(rtt >= 350, `the delay did not apply: ${rtt} ms`);
      assert.equal(await answer(session, 'REPLY p5'), 'p5');
      await proxy.cmd('pass');
      life.off();
    } finally {
      await client.forceStop();
      await proxy.close();
    }
  }));

test('spawned_cli_is_restarted_within_its_budget', () =>
  withModel(async (model) => {
    const client = new CopilotClient(ownCliOptions({ reconnect: { ...FAST, maxRestarts: 2 } }));
    const pids = [];
    try {
      const life = lifecycle(client);
      const session = await client.createSession(cfg(model));
      assert.equal(await answer(session, 'REPLY a'), 'a');
      pids.push(client.cliPid);
      for (let round = 0; round < 2; round++) {
        process.kill(pids.at(-1), 'SIGKILL');
        const restored = await life.next('connection.restored', 30000);
        assert.equal(restored.metadata.restarted, true, JSON.stringify(restored));
        assert.equal(restored.metadata.sessionsResumed, 1, JSON.stringify(restored));
        const pid = client.cliPid;
        assert.ok(pid && !pids.includes(pid), `round ${round}: a new CLI (${pid}, before: ${pids})`);
        pids.push(pid);
        assert.equal(await answer(session, `REPLY r${round}`), `r${round}`);
      }
      process.kill(pids.at(-1), 'SIGKILL');
      const gaveUp = await life.next('connection.gave_up', 30000);
      assert.equal(gaveUp.metadata.code, 'reconnect_failed', JSON.stringify(gaveUp));
      assert.equal(typeof gaveUp.metadata.attempts, 'number');
      let e = await failure(client.ping(), 5000, 'ping after giving up');
      assert.equal(e.code, ErrorCodes.RECONNECT_FAILED, e.message);
      assert.ok(e.message.includes('restart budget'), e.message);
      e = await failure(session.send('x'), 5000, 'send after giving up');
      assert.equal(e.code, ErrorCodes.RECONNECT_FAILED, e.message);
      for (const pid of pids) assert.ok(await waitDead(pid, 5000), `CLI ${pid} still runs`);
      assert.deepEqual(childrenMatching(cliPath()).filter((pid) => pid !== external?.pid), [], 'no CLI process is left');
      life.off();
    } finally {
      await client.forceStop();
    }
  }));

test('kill_restart_cycles_do_not_leak', () =>
  withModel(async (model) => {
    const cycles = Number(process.env.COPILOT_SOAK_CYCLES ?? 100);
    const cli = await externalCli();
    const proxy = await chaos(['proxy', '--target', String(cli.port)]);
    const client = new CopilotClient({
      cliUrl: `127.0.0.1:${proxy.port}`,
      reconnect: { ...FAST, initialDelay: 0.01, maxDelay: 0.1 },
      startTimeout: 5,
    });
    try {
      const life = lifecycle(client, ['connection.restored']);
      assert.equal((await client.ping('warm')).message, 'pong: warm');
      const warm = resources();
      let afterFirst = warm;
      const t = performance.now();
      for (let i = 0; i < cycles; i++) {
        await proxy.cmd('reset');
        await life.next('connection.restored', 30000);
        await client.ping();
        if (i === 0) afterFirst = resources();
      }
      const took = performance.now() - t;
      await sleep(300);
      const end = resources();
      console.log(
        `${cycles} connection kill/reconnect cycles in ${(took / 1000).toFixed(1)} s: ` +
          `fds ${warm.fds} -> ${afterFirst.fds} (after 1) -> ${end.fds}, ` +
          `threads ${warm.threads} -> ${afterFirst.threads} -> ${end.threads}, ` +
          `RSS ${warm.rssKiB} KiB -> ${afterFirst.rssKiB} KiB -> ${end.rssKiB} KiB`,
      );
      assert.equal(life.seen.length, cycles, 'one connection.restored per cycle');
      assert.ok(end.fds <= afterFirst.fds + 2, `descriptors leak: ${JSON.stringify({ afterFirst, end })}`);
      assert.ok(end.threads <= afterFirst.threads + 2, `threads leak: ${JSON.stringify({ afterFirst, end })}`);
      assert.ok(end.rssKiB < afterFirst.rssKiB + 64 * 1024, `memory grows: ${JSON.stringify({ afterFirst, end })}`);
      // Still a working client: a session answers through the proxy.
      const session = await client.createSession(cfg(model));
      assert.equal(await answer(session, 'REPLY after'), 'after');
      life.off();
    } finally {
      await client.forceStop();
      await proxy.close();
    }
  }));

test('hostile_peers', async () => {
  const peerClient = (peer, extra = {}) =>
    new CopilotClient({ cliUrl: `127.0.0.1:${peer.port}`, reconnect: false, heartbeatInterval: 0, startTimeout: 2, ...extra });

  // silent: the call fails with `timeout` at requestTimeout.
  let peer = await chaos(['peer', '--mode', 'silent']);
  let client = peerClient(peer, { requestTimeout: 1 });
  try {
    await client.start();
    const t = performance.now();
    const e = await failure(client.rpc('session.list', {}), 5000, 'a call to a silent peer');
    const took = performance.now() - t;
    console.log(`silent peer: timeout after ${took.toFixed(0)} ms`);
    assert.equal(e.code, ErrorCodes.TIMEOUT, e.message);
    assert.ok(took >= 900 && took < 2500, `took ${took} ms`);
  } finally {
    await client.forceStop();
    await peer.close();
  }

  // unknown-id: the reply names no pending call, so it is ignored: `timeout` too.
  peer = await chaos(['peer', '--mode', 'unknown-id']);
  client = peerClient(peer, { requestTimeout: 1 });
  try {
    await client.start();
    const before = Number((await peer.cmd('count')).split(' ').pop());
    const e = await failure(client.rpc('session.list', {}), 5000, 'a call answered with an unknown id');
    assert.equal(e.code, ErrorCodes.TIMEOUT, e.message);
    const after = Number((await peer.cmd('count')).split(' ').pop());
    assert.ok(after > before, `the peer received the call (${before} -> ${after})`);
  } finally {
    await client.forceStop();
    await peer.close();
  }

  // bad-header: a framing error, at once (not at the 30 s default deadline).
  peer = await chaos(['peer', '--mode', 'bad-header']);
  client = peerClient(peer);
  try {
    await client.start();
    const t = performance.now();
    const e = await failure(client.rpc('session.list', {}), 5000, 'a call answered with a bad header');
    const took = performance.now() - t;
    assert.equal(e.code, ErrorCodes.FRAME_HEADER, e.message);
    assert.ok(took < 2000, `took ${took} ms`);
  } finally {
    await client.forceStop();
    await peer.close();
  }
});

test('cancellation_reaches_running_handlers', () =>
  withModel(async (model) => {
    const client = new CopilotClient({ cliUrl: (await externalCli()).url });
    const warnings = [];
    const onWarning = (w) => warnings.push(String(w.message));
    process.on('warning', onWarning);
    let started;
    let cancelled;
    const arm = () => {
      let s;
      let c;
      started = new Promise((resolve) => (s = resolve));
      cancelled = new Promise((resolve) => (c = resolve));
      return { s, c };
    };
    let hooks = arm();
    const invocations = [];
    const waitForever = {
      name: 'wait_forever',
      description: 'Waits until it is cancelled',
      parameters: { type: 'object', properties: {} },
      handler: async (_args, inv) => {
        invocations.push(inv);
        const { s, c } = hooks;
        s();
        await new Promise((resolve) => inv.signal.addEventListener('abort', resolve, { once: true }));
        c({ reason: inv.signal.reason, at: performance.now() });
        // A reply after cancellation: ignored, harmless.
        return 'late answer';
      },
    };
    try {
      const session = await client.createSession(cfg(model, { tools: [waitForever] }));
      const completions = [];
      session.on('tool.execution_complete', (e) => completions.push(e.data));
      const idle = waitForEvent(session, (e) => e.type === 'session.idle', 60000);
      await session.send('CALL wait_forever {}');
      await bounded(started, 30000, 'the tool handler starting');
      const inv = invocations[0];
      assert.ok(inv.signal instanceof AbortSignal);
      assert.equal(inv.signal.aborted, false);
      assert.ok(!Object.keys(inv).includes('signal'), 'signal is not part of the payload');
      const t = performance.now();
      await session.abort();
      const { reason, at } = await bounded(cancelled, 2000, 'the handler seeing its cancellation');
      console.log(`abort() reached the handler's signal in ${(at - t).toFixed(1)} ms`);
      assert.ok(reason instanceof CopilotError, String(reason));
      assert.equal(reason.code, ErrorCodes.CANCELLED);
      assert.ok(reason.message.includes('aborted'), reason.message);
      await idle;
      assert.ok(!JSON.stringify(completions).includes('late answer'), JSON.stringify(completions));

      // A sendAndWait timeout with abortOnTimeout cancels the handler too.
      hooks = arm();
      const e = await failure(
        session.sendAndWait({ prompt: 'CALL wait_forever {}', abortOnTimeout: true }, 2000),
        10000,
        'sendAndWait timing out',
      );
      assert.equal(e.code, ErrorCodes.TIMEOUT, e.message);
      const second = await bounded(cancelled, 2000, 'the handler seeing its cancellation after the timeout');
      assert.ok(second.reason.message.includes('aborted'), second.reason.message);
      // The late replies were harmless: the session still answers, nothing was warned.
      assert.equal(await answer(session, 'REPLY still here'), 'still here');
      assert.deepEqual(warnings.filter((w) => w.includes('@copilot-hub/node')), []);
      await session.disconnect();
    } finally {
      process.off('warning', onWarning);
      await client.forceStop();
    }
  }));

test('new_options_are_checked', () =>
  withModel(async (model) => {
    const rejects = (options, what) => {
      assert.throws(
        () => new CopilotClient(options),
        (e) => e instanceof CopilotError && e.code === ErrorCodes.INVALID_CONFIG,
        `${what}: ${JSON.stringify(options)}`,
      );
    };
    rejects({ reconnect: 'yes' }, 'reconnect is a boolean or an object');
    rejects({ reconnect: 1 }, 'reconnect is a boolean or an object');
    rejects({ reconnect: { maxAttempts: 'many' } }, 'maxAttempts is a count');
    rejects({ reconnect: { maxAttempts: -1 } }, 'maxAttempts is a count');
    rejects({ reconnect: { initialDelay: -0.5 } }, 'delays are seconds');
    rejects({ reconnect: { callWait: '10' } }, 'delays are seconds');
    rejects({ reconnect: { sometimes: true } }, 'unknown reconnect option');
    rejects({ requestTimeout: '30' }, 'seconds');
    rejects({ heartbeatInterval: -1 }, 'seconds');
    rejects({ heartbeatTimeout: 'soon' }, 'seconds');
    rejects({ tcpKeepalive: true }, 'seconds');
    rejects({ tcpUserTimeout: [20] }, 'seconds');
    // The right types are accepted (nothing is started).
    for (const ok of [
      { reconnect: false },
      { reconnect: true },
      {
        reconnect: { enabled: true, maxAttempts: 3, initialDelay: 0.1, maxDelay: 1, callWait: 0, maxRestarts: 1, restartWindow: 10 },
        requestTimeout: 0,
        heartbeatInterval: 0,
        heartbeatTimeout: 1.5,
        tcpKeepalive: 0,
        tcpUserTimeout: 5,
      },
    ]) {
      new CopilotClient({ cliUrl: '127.0.0.1:1', autoStart: false, ...ok });
    }
    // Per-call timeouts are checked before anything is sent.
    const idle = new CopilotClient({ cliUrl: '127.0.0.1:1', autoStart: false });
    for (const bad of [{ timeout: -1 }, { timeout: '5' }, { timeout: Number.NaN }, 'fast']) {
      const e = await failure(idle.rpc('ping', {}, bad), 5000, `rpc options ${JSON.stringify(bad)}`);
      assert.equal(e.code, ErrorCodes.INVALID_CONFIG, e.message);
    }
    // Without autoStart, a valid per-call timeout reaches the core (not started: not_connected).
    const e = await failure(idle.rpc('ping', {}, { timeout: 500 }), 5000, 'rpc on a client that is not started');
    assert.equal(e.code, ErrorCodes.NOT_CONNECTED, e.message);

    // idleTimeout (ms) reaches the core: a silent turn fails after it, not after `timeout`.
    const client = new CopilotClient({ cliUrl: (await externalCli()).url });
    try {
      const session = await client.createSession(cfg(model));
      let err = await failure(session.sendAndWait({ prompt: 'x', idleTimeout: 'soon' }), 5000, 'idleTimeout of the wrong type');
      assert.equal(err.code, ErrorCodes.INVALID_CONFIG, err.message);
      const t = performance.now();
      err = await failure(
        session.sendAndWait({ prompt: 'HANG', abortOnTimeout: true }, { timeout: 60000, idleTimeout: 1000 }),
        15000,
        'a silent turn with idleTimeout',
      );
      const took = performance.now() - t;
      assert.equal(err.code, ErrorCodes.TIMEOUT, err.message);
      assert.ok(err.message.includes('idle timeout'), err.message);
      assert.ok(took >= 900 && took < 10000, `took ${took} ms`);
      // A per-call deadline on a session call: a short one still answers a quick method.
      const messages = await session.rpc('session.getMessages', {}, { timeout: 5000 });
      assert.ok(Array.isArray(messages.events), JSON.stringify(messages).slice(0, 200));
      await session.disconnect();
    } finally {
      await client.forceStop();
    }
  }));
