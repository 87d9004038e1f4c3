// A small cluster for the pool tests: CLI servers started with --port that share one state
// directory (same HOME and COPILOT_HOME), a real redis-server on a free loopback port, and a
// minimal RESP client to touch lease keys behind the pool's back. Every process started here
// is killed when the test process ends (also on failure).
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { announcement, bounded, cliEnv, cliPath, freePort, tempDir } from './helpers.mjs';

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
});

/** Polls `cond` (sync or async) every 25 ms until it is truthy; fails after `ms` (a hang detector). */
export async function until(what, cond, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** One state directory for the servers of a cluster: `{home, copilotHome, work}`. */
export function sharedState() {
  const base = tempDir('copilot-node-pool-');
  const home = join(base, 'home');
  const copilotHome = join(home, '.copilot');
  const work = join(base, 'work');
  mkdirSync(copilotHome, { recursive: true });
  mkdirSync(work);
  return { home, copilotHome, work };
}

/** A CLI server (`--headless --port N`) over a shared state directory; kill and start again on its port. */
export class CliServer {
  static async start(state, port) {
    const s = new CliServer(state, port ?? (await freePort()));
    await s.spawn();
    return s;
  }

  constructor(state, port) {
    this.state = state;
    this.port = port;
  }

  async spawn() {
    const child = spawn(cliPath(), ['--headless', '--no-auto-update', '--port', String(this.port)], {
      env: cliEnv({ HOME: this.state.home, COPILOT_HOME: this.state.copilotHome }),
      cwd: this.state.work,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.add(child);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve)).then(() => children.delete(child));
    await announcement(child, /listening on port/, `the CLI on port ${this.port}`);
  }

  get url() {
    return `127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.child.pid;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, and reap. */
  async kill() {
    if (this.alive) this.child.kill('SIGKILL');
    await bounded(this.exited, 10000, 'the killed CLI exiting');
  }

  /** A new server on the same port (same state directory). */
  async restart() {
    await this.kill();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawn();
        return;
      } catch (e) {
        if (attempt >= 5) throw e; // the port may linger for a moment
        await sleep(200);
      }
    }
  }
}

/** One RESP command to the Redis at `port`; resolves to the reply (string, number, null, or Error). */
export function redisCmd(port, ...args) {
  return bounded(
    new Promise((resolve, reject) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      let buf = Buffer.alloc(0);
      sock.once('error', reject);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const text = buf.toString('utf8');
        const nl = text.indexOf('\r\n');
        if (nl < 0) return;
        const head = text.slice(0, nl);
        let value;
        switch (head[0]) {
          case '+':
            value = head.slice(1);
            break;
          case '-':
            value = new Error(head.slice(1));
            break;
          case ':':
            value = Number(head.slice(1));
            break;
          case '$': {
            const n = Number(head.slice(1));
            if (n < 0) value = null;
            else {
              if (buf.length < nl + 2 + n + 2) return;
              value = buf.subarray(nl + 2, nl + 2 + n).toString('utf8');
            }
            break;
          }
          default:
            value = new Error(`unexpected reply ${head}`);
        }
        sock.end();
        resolve(value);
      });
      let out = `*${args.length}\r\n`;
      for (const a of args) out += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
      sock.write(out);
    }),
    5000,
    `redis ${args[0]}`,
  );
}

/** A redis-server on a free loopback port, nothing persisted. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve)).then(() => children.delete(child));
  await until('redis-server answering PING', async () => (await redisCmd(port, 'PING').catch(() => null)) === 'PONG', 20000);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cmd: (...args) => redisCmd(port, ...args),
    async close() {
      child.kill('SIGKILL');
      await bounded(exited, 10000, 'redis-server exiting');
    },
  };
}

/** The user messages of a session, in order. */
export async function userMessages(session) {
  return (await session.getMessages()).filter((e) => e.type === 'user.message').map((e) => e.data.content);
}
