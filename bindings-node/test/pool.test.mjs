// Several CLI servers as one pool, against real CLI servers that share one state directory and
// a real redis-server (the Node twin of core/tests/pool.rs): placement by rendezvous hashing,
// failover after SIGKILL (between turns and mid-turn) and the return of the preferred server,
// drain, leases across two pools, the reaper (client and pool), metrics (object and Prometheus
// text), logging, typed errors for bad options, and that a pool never keeps Node alive. Every
// wait is on a condition, bounded; every process started here is killed, also on failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CopilotClient, CopilotError, CopilotPool, CopilotSession, ErrorCodes, setLogHandler } from '@copilot-hub/node';
import { failure, runNode, startFakeModel } from './helpers.mjs';
import { CliServer, sharedState, startRedis, until, userMessages } from './cluster.mjs';

let model;
let redis;
let state;
/** Two servers over one state directory (A = servers[0], B = servers[1]). */
const servers = [];
const pools = [];

before(async () => {
  model = await startFakeModel();
  redis = await startRedis();
  state = sharedState();
  servers.push(...(await Promise.all([CliServer.start(state), CliServer.start(state)])));
});

after(async () => {
  setLogHandler(null);
  for (const p of pools) await p.stop();
  for (const s of servers) await s.kill();
  await redis?.close();
  model?.close();
});

/** Quick health checks and reconnection for tests (seconds, as the options take them). */
const FAST = {
  healthInterval: 0.2,
  startTimeout: 10,
  reconnect: { initialDelay: 0.05, maxDelay: 0.3, maxAttempts: 5, callWait: 5 },
};

let prefixes = 0;
/** A pool over the cluster's servers (stopped after the file); `lease: true` adds a lease in the test Redis. */
function pool(extra = {}) {
  const { lease, ...rest } = extra;
  const o = { urls: servers.map((s) => s.url), ...FAST, ...rest };
  if (lease) o.lease = { redisUrl: redis.url, keyPrefix: `node-test-${process.pid}-${prefixes++}:`, ...lease };
  const p = new CopilotPool(o);
  pools.push(p);
  return p;
}

const cfg = (extra = {}) => ({ model: 'gpt-4.1', provider: model.provider, ...extra });

/** Session ids whose first-ranked server is `url` (the ranking is a pure function of id and URLs). */
function idsFor(p, url, n, tag) {
  const out = [];
  for (let i = 0; out.length < n; i++) {
    const id = `${tag}-${process.pid}-${i}`;
    if (p.ranking(id)[0] === url) out.push(id);
  }
  return out;
}

async function ask(session, prompt) {
  let a;
  try {
    a = await session.sendAndWait({ prompt }, 60000);
  } catch (e) {
    e.message = `${prompt}: ${e.message}`;
    throw e;
  }
  assert.ok(a, `no answer to ${prompt}`);
  return a.data.content;
}

const serverState = (p, url) => p.servers().find((s) => s.url === url);

test('placement: each session is on the first server of its ranking; handlers, tools and events work', async () => {
  const p = pool();
  await p.start();
  const [a, b] = servers.map((s) => s.url);
  assert.deepEqual(p.urls, [a, b]);
  assert.deepEqual(new Set(p.ranking('anything')), new Set([a, b]));
  const ids = [...idsFor(p, a, 2, 'place-a'), ...idsFor(p, b, 2, 'place-b')];
  const sessions = [];
  for (const id of ids) {
    // (a session is stored once it has a turn: each gets one below)
    assert.equal(p.serverFor(id), p.ranking(id)[0]);
    const s = await p.createSession(cfg({ sessionId: id }));
    assert.ok(s instanceof CopilotSession);
    assert.equal(s.sessionId, id);
    assert.equal(s.server, p.ranking(id)[0], id);
    assert.equal(s.leaseToken, undefined, 'no lease store, no token');
    sessions.push(s);
  }
  assert.deepEqual(
    p.servers().map((s) => [s.url, s.healthy, s.draining, s.openSessions]),
    [
      [a, true, false, 2],
      [b, true, false, 2],
    ],
  );
  // A pooled session is an ordinary CopilotSession: listeners, tools, handlers.
  const s = sessions[0];
  const seen = [];
  s.on('assistant.message', (e) => seen.push(e.data.content));
  let toolArgs;
  const t = await p.createSession(
    cfg({
      sessionId: `place-tool-${process.pid}`,
      onPermissionRequest: () => ({ kind: 'approve-once' }),
      tools: [
        {
          name: 'lookup',
          description: 'Looks a key up',
          parameters: { type: 'object', properties: { key: { type: 'string' } } },
          handler: (args) => {
            toolArgs = args;
            return `value of ${args.key}`;
          },
        },
      ],
    }),
  );
  assert.equal(await ask(s, 'REPLY placed'), 'placed');
  assert.deepEqual(seen, ['placed']);
  for (const x of sessions.slice(1)) assert.equal(await ask(x, `REPLY on ${x.sessionId}`), `on ${x.sessionId}`);
  assert.equal(await ask(t, 'CALL lookup {"key":"k1"}'), 'Tool returned: value of k1');
  assert.deepEqual(toolArgs, { key: 'k1' });
  for (const x of [...sessions, t]) await x.disconnect();
  assert.deepEqual(
    p.servers().map((x) => x.openSessions),
    [0, 0],
  );
  // Resumed on the same server (the ranking does not change), with its history.
  const r = await p.resumeSession(ids[0], cfg());
  assert.equal(r.server, p.ranking(ids[0])[0]);
  assert.deepEqual(await userMessages(r), ['REPLY placed']);
  await r.disconnect();
  const listed = (await p.listSessions()).map((m) => m.sessionId);
  for (const id of ids) assert.ok(listed.includes(id), `${id} listed once across the pool`);
  assert.equal(new Set(listed).size, listed.length, 'each session listed once');
  await p.deleteSession(ids[3]);
  assert.ok(!(await p.listSessions()).some((m) => m.sessionId === ids[3]));
  // A stopped pool stays stopped until start() (the client's rule).
  assert.deepEqual(await p.stop(), []);
  await assert.rejects(p.listSessions(), (e) => e.code === ErrorCodes.NOT_CONNECTED);
  await p.start();
  assert.ok((await p.listSessions()).some((m) => m.sessionId === ids[0]));
});

test('failover: a SIGKILLed server\'s session continues on the next server with its history, and returns', async () => {
  const records = [];
  const trace = process.env.POOL_TEST_LOGS === '1';
  setLogHandler(
    (level, target, message, fields) => {
      records.push({ level, target, message, fields });
      if (trace) console.error(`[${new Date().toISOString()}] ${level} ${target}: ${message} ${JSON.stringify(fields)}`);
    },
    { level: trace ? 'debug' : 'info' },
  );
  try {
    const p = pool();
    await p.start();
    const [A, B] = servers;
    const [id] = idsFor(p, A.url, 1, 'failover');
    const s = await p.createSession(cfg({ sessionId: id }));
    assert.equal(s.server, A.url);
    assert.equal(await ask(s, 'REPLY one'), 'one');

    // Between turns: the pool moves the session as soon as it sees the server go.
    const killedAt = Date.now();
    await A.kill();
    await until('the session to move off the killed server', () => s.server === B.url, 20000);
    const moved = Date.now() - killedAt;
    assert.equal(await ask(s, 'REPLY two'), 'two');
    assert.equal(s.server, B.url);
    assert.deepEqual(await userMessages(s), ['REPLY one', 'REPLY two'], 'the whole history followed the session');
    assert.equal(serverState(p, A.url).healthy, false);
    const warn = await until('a warn log record of the failover', () =>
      records.find((r) => r.level === 'warn' && r.target.startsWith('copilot_core::pool') && /lost a server/.test(r.message)),
    );
    assert.equal(warn.fields.server, A.url);
    assert.ok(records.some((r) => r.level === 'info' && /moved to another server/.test(r.message) && r.fields.to === B.url), JSON.stringify(records));

    // The preferred server comes back (same port, same state): the next prompt returns there.
    await A.restart();
    await until('the restarted server to be healthy', () => serverState(p, A.url).healthy, 30000);
    assert.equal(await ask(s, 'REPLY three'), 'three');
    assert.equal(s.server, A.url, 'back on its first-ranked server');
    assert.deepEqual(await userMessages(s), ['REPLY one', 'REPLY two', 'REPLY three']);

    // Mid-turn: the turn's outcome is unknown; the next prompt continues on the other server.
    const turn = s.sendAndWait({ prompt: 'SLOW 20 200' }, 60000);
    turn.catch(() => {}); // awaited below (after the kill)
    await until('the slow turn to reach the model', () => model.chatRequests().some((r) => JSON.stringify(r.body).includes('SLOW 20 200')), 30000);
    await A.kill();
    const e = await failure(turn, 60000, 'the turn whose server was killed');
    assert.equal(e.code, ErrorCodes.TURN_OUTCOME_UNKNOWN, e.message);
    // At once, while the pool may still be moving the session (the move and this prompt's own
    // relocation race: the core must serialise them).
    assert.equal(await ask(s, 'REPLY after'), 'after');
    assert.equal(s.server, B.url);
    const history = await userMessages(s);
    assert.deepEqual(history.slice(0, 3), ['REPLY one', 'REPLY two', 'REPLY three']);
    assert.equal(history.filter((m) => m === 'REPLY after').length, 1);

    const m = p.metrics();
    assert.ok(m.failovers >= 3, JSON.stringify(m));
    const a = m.servers.find((x) => x.url === A.url);
    assert.ok(a.failoversOut >= 2 && a.healthy === false, JSON.stringify(a));
    console.log(`# failover: the session moved ${moved} ms after SIGKILL`);
    await s.disconnect();
    await A.restart();
    await until('the restarted server to be healthy', () => serverState(p, A.url).healthy, 30000);
  } finally {
    setLogHandler(null);
    // Leave the cluster whole for the other tests.
    if (!servers[0].alive) await servers[0].restart();
  }
});

test('drain: the next prompt runs on the other server; undrain brings it back', async () => {
  const p = pool();
  const [a, b] = servers.map((s) => s.url);
  const [id] = idsFor(p, a, 1, 'drain');
  const s = await p.createSession(cfg({ sessionId: id }));
  assert.equal(await ask(s, 'REPLY d1'), 'd1');
  assert.equal(s.server, a);
  p.drain(a);
  assert.equal(serverState(p, a).draining, true);
  assert.equal(p.serverFor(id), b, 'a drained server takes no new placements');
  assert.equal(await ask(s, 'REPLY d2'), 'd2');
  assert.equal(s.server, b);
  assert.equal(serverState(p, a).openSessions, 0, JSON.stringify(p.servers()));
  assert.equal(serverState(p, b).openSessions, 1);
  assert.deepEqual(await userMessages(s), ['REPLY d1', 'REPLY d2']);
  p.undrain(a);
  assert.equal(p.serverFor(id), a);
  assert.equal(await ask(s, 'REPLY d3'), 'd3');
  assert.equal(s.server, a);
  assert.deepEqual(await userMessages(s), ['REPLY d1', 'REPLY d2', 'REPLY d3']);
  await s.disconnect();
  assert.throws(() => p.drain('127.0.0.1:1'), (e) => e instanceof CopilotError && e.code === ErrorCodes.INVALID_CONFIG);
});

test('lease: a second instance waits then gets lease_held; after release it gets a higher token', async () => {
  const lease = { wait: 0.5, ttl: 5 };
  const one = pool({ lease: { ...lease, owner: 'instance-one' } });
  const keyPrefix = `node-test-${process.pid}-${prefixes - 1}:`;
  const two = pool({ lease: { ...lease, owner: 'instance-two', keyPrefix } });
  const id = `lease-${process.pid}`;
  const s1 = await one.createSession(cfg({ sessionId: id }));
  assert.equal(typeof s1.leaseToken, 'number');
  assert.equal(await redis.cmd('GET', `${keyPrefix}${id}`), `instance-one|${s1.leaseToken}`);
  const started = Date.now();
  const e = await failure(two.resumeSession(id, cfg()), 20000, 'resume while another instance holds the lease');
  assert.equal(e.code, ErrorCodes.LEASE_HELD, e.message);
  assert.ok(e.isRetriable);
  // It kept trying (growing backoff) for the whole `wait` before giving up.
  assert.ok(Date.now() - started >= 480, `it waited for the holder first (${Date.now() - started} ms)`);
  assert.match(e.message, /instance-one/);
  // The same pool refuses a second handle on a session it has open.
  assert.equal((await failure(one.resumeSession(id, cfg()), 20000, 'a second handle')).code, ErrorCodes.INVALID_CONFIG);

  assert.equal(await ask(s1, 'REPLY held'), 'held');
  await s1.disconnect();
  const two2 = pool({ lease: { wait: 10, ttl: 5, owner: 'instance-two', keyPrefix } });
  const s2 = await two2.resumeSession(id, cfg());
  assert.ok(s2.leaseToken > s1.leaseToken, `token ${s2.leaseToken} after ${s1.leaseToken}`);
  assert.deepEqual(await userMessages(s2), ['REPLY held'], 'the second instance sees the first one\'s turn');
  assert.equal(await ask(s2, 'REPLY mine now'), 'mine now');
  const m = two2.metrics();
  assert.equal(m.leasesAcquired, 1);
  assert.ok(one.metrics().leasesAcquired >= 1 && two.metrics().leaseWaits >= 1);
  await s2.disconnect();
  await until('the lease key to be released', async () => (await redis.cmd('GET', `${keyPrefix}${id}`)) === null, 10000);
});

test('lease: a lease deleted or overwritten behind the pool\'s back makes the next call fail with lease_lost', async () => {
  const p = pool({ lease: { ttl: 0.6, wait: 1 } });
  const keyPrefix = `node-test-${process.pid}-${prefixes - 1}:`;
  for (const how of ['deleted', 'overwritten']) {
    const id = `lease-lost-${how}-${process.pid}`;
    const s = await p.createSession(cfg({ sessionId: id }));
    assert.equal(await ask(s, 'REPLY fine'), 'fine');
    if (how === 'deleted') await redis.cmd('DEL', `${keyPrefix}${id}`);
    else await redis.cmd('SET', `${keyPrefix}${id}`, `intruder|${s.leaseToken + 100}`, 'PX', '60000');
    // Renewal (every ttl/3) notices; from then on every call fails.
    const e = await until(
      'a call to fail with lease_lost',
      async () => {
        try {
          await s.getMessages();
          return null;
        } catch (err) {
          return err;
        }
      },
      10000,
    );
    assert.equal(e.code, ErrorCodes.LEASE_LOST, e.message);
    assert.equal((await failure(s.sendAndWait({ prompt: 'REPLY no' }), 20000, 'a prompt without the lease')).code, ErrorCodes.LEASE_LOST);
    await s.disconnect(); // detaching still works
    if (how === 'overwritten') {
      assert.equal(await redis.cmd('GET', `${keyPrefix}${id}`), `intruder|${s.leaseToken + 100}`, 'the new holder\'s lease is left alone');
    }
  }
  assert.equal(p.metrics().leasesLost, 2);
});

test('lease: tokens keep growing and no lease is lost under concurrent open/disconnect churn', async () => {
  // Short leases (renewed every 100 ms) released at random moments: a release that cancels a
  // renewal in flight must not leave the store's connection out of step (a later command would
  // read the earlier reply: wrong tokens, leases "lost" that were never taken).
  const p = pool({ lease: { ttl: 0.3, wait: 10 } });
  await p.start();
  const problems = [];
  await Promise.all(
    Array.from({ length: 10 }, async (_, k) => {
      const id = `lease-churn-${process.pid}-${k}`;
      let last = 0;
      for (let i = 0; i < 12; i++) {
        const s = i === 0 ? await p.createSession(cfg({ sessionId: id })) : await p.resumeSession(id, cfg());
        if (i === 0) assert.equal(await ask(s, 'REPLY churn'), 'churn');
        if (!(s.leaseToken > last)) problems.push(`${id}: token ${s.leaseToken} after ${last}`);
        last = Math.max(last, s.leaseToken ?? 0);
        await new Promise((r) => setTimeout(r, 5 + ((k * 37 + i * 53) % 150)));
        await s.disconnect();
      }
    }),
  );
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} tokens did not grow`);
  assert.equal(p.metrics().leasesLost, 0, JSON.stringify(p.metrics()));
});

test('reaper on a client: cleanupSessions deletes an idle detached session, skips an open one unless includeOpen; startReaper', async () => {
  const client = new CopilotClient({ cliUrl: servers[0].url });
  try {
    const old = await client.createSession(cfg({ sessionId: `reap-old-${process.pid}` }));
    assert.equal(await ask(old, 'REPLY old'), 'old');
    await old.disconnect();
    const open = await client.createSession(cfg({ sessionId: `reap-open-${process.pid}` }));
    assert.equal(await ask(open, 'REPLY open'), 'open');
    await until('the sessions to be idle for more than 50 ms', async () => {
      const list = await client.listSessions();
      const mine = list.filter((m) => m.sessionId === old.sessionId || m.sessionId === open.sessionId);
      return mine.length === 2 && mine.every((m) => Date.now() - m.modifiedTime.getTime() > 50);
    });
    let deleted = await client.cleanupSessions({ maxIdle: 0.05 });
    let ids = deleted.map((m) => m.sessionId);
    assert.ok(ids.includes(old.sessionId), JSON.stringify(ids));
    assert.ok(!ids.includes(open.sessionId), 'an open session is skipped');
    assert.ok(deleted[0].modifiedTime instanceof Date);
    assert.ok(!(await client.listSessions()).some((m) => m.sessionId === old.sessionId));
    deleted = await client.cleanupSessions({ maxIdle: 0.05, includeOpen: true });
    ids = deleted.map((m) => m.sessionId);
    assert.ok(ids.includes(open.sessionId), 'includeOpen deletes it (after disconnecting it)');
    assert.equal(client.metrics().openSessions, 0);

    // The background reaper: lifecycle `reaper.swept` and onSweep.
    const bg = await client.createSession(cfg({ sessionId: `reap-bg-${process.pid}` }));
    assert.equal(await ask(bg, 'REPLY bg'), 'bg');
    await bg.disconnect();
    const swept = [];
    const events = [];
    const off = client.on('reaper.swept', (e) => events.push(e));
    const reaper = client.startReaper(0.2, { maxIdle: 0.05, onSweep: (r) => swept.push(r) });
    await until('the reaper to delete the idle session', () => swept.some((r) => r.deleted.includes(bg.sessionId)), 20000);
    await until('the lifecycle event', () => events.some((e) => e.metadata.deleted.includes(bg.sessionId)), 5000);
    reaper.stop();
    reaper.stop(); // idempotent
    off();
    assert.ok(!(await client.listSessions()).some((m) => m.sessionId === bg.sessionId));
  } finally {
    await client.stop();
  }
});

test('reaper on a pool: across servers, never a session leased by another instance; startReaper', async () => {
  const keyPrefix = `node-test-${process.pid}-reaper:`;
  const p = pool({ lease: { ttl: 5, wait: 1, keyPrefix, owner: 'reaper-pool' } });
  const other = pool({ lease: { ttl: 5, wait: 1, keyPrefix, owner: 'other-instance' } });
  const [a, b] = servers.map((s) => s.url);
  const [idA] = idsFor(p, a, 1, 'pool-reap');
  const [idB] = idsFor(p, b, 1, 'pool-reap');
  for (const id of [idA, idB]) {
    const s = await p.createSession(cfg({ sessionId: id }));
    assert.equal(await ask(s, 'REPLY x'), 'x');
    await s.disconnect();
  }
  const leasedId = `pool-reap-leased-${process.pid}`;
  const leased = await other.createSession(cfg({ sessionId: leasedId }));
  assert.equal(await ask(leased, 'REPLY leased'), 'leased');
  await until('the sessions to be idle for more than 50 ms', async () => {
    const list = await p.listSessions();
    const mine = list.filter((m) => [idA, idB, leasedId].includes(m.sessionId));
    return mine.length === 3 && mine.every((m) => Date.now() - m.modifiedTime.getTime() > 50);
  });
  const ids = (await p.cleanupSessions({ maxIdle: 0.05, includeOpen: true })).map((m) => m.sessionId);
  assert.ok(ids.includes(idA) && ids.includes(idB), JSON.stringify(ids));
  assert.ok(!ids.includes(leasedId), 'a session leased by another instance is never deleted');
  assert.ok(p.metrics().reaped >= 2);

  // Background: once the other instance lets go, the reaper takes it.
  const swept = [];
  const reaper = p.startReaper(0.2, { maxIdle: 0.05, onSweep: (r) => swept.push(r) });
  await leased.disconnect();
  await until('the reaper to delete the released session', () => swept.some((r) => r.deleted.includes(leasedId)), 20000);
  reaper.stop();
  assert.ok(!(await p.listSessions()).some((m) => m.sessionId === leasedId));
  assert.ok(p.metrics().reaped >= 3);
  assert.match(p.metricsPrometheus(), /copilot_reaped_sessions_total [3-9]/);
});

test('metrics: a client\'s and a pool\'s counters, as an object and as Prometheus text', async () => {
  const client = new CopilotClient({ cliUrl: servers[1].url });
  try {
    await client.start();
    const before = client.metrics();
    assert.equal(typeof before.calls, 'number');
    const s = await client.createSession(cfg());
    assert.equal(await ask(s, 'REPLY counted'), 'counted');
    const m = client.metrics();
    assert.ok(m.calls >= before.calls + 2, JSON.stringify(m));
    assert.equal(m.turns.count, before.turns.count + 1);
    assert.ok(m.turns.sumSeconds > 0);
    assert.equal(m.turns.buckets.at(-1).le, '+Inf');
    assert.equal(m.openSessions, 1);
    await failure(s.rpc('session.no.such.method', {}), 20000, 'an unknown method');
    assert.ok(Object.values(client.metrics().errors).reduce((x, y) => x + y, 0) >= 1, JSON.stringify(client.metrics()));
    const text = client.metricsPrometheus();
    assert.match(text, new RegExp(`copilot_calls_total\\{server="${servers[1].url}"\\} ${client.metrics().calls}`));
    assert.match(text, /# TYPE copilot_turn_seconds histogram/);
    await s.disconnect();
  } finally {
    await client.stop();
  }

  const p = pool();
  const [id] = idsFor(p, servers[0].url, 1, 'metrics');
  const s = await p.createSession(cfg({ sessionId: id }));
  assert.equal(await ask(s, 'REPLY pooled'), 'pooled');
  const m = p.metrics();
  assert.equal(m.healthyServers, 2);
  assert.equal(m.openSessions, 1);
  assert.deepEqual(
    m.servers.map((x) => x.url),
    servers.map((x) => x.url),
  );
  const onA = m.servers[0];
  assert.ok(onA.calls >= 2 && onA.turns.count === 1 && onA.openSessions === 1, JSON.stringify(onA));
  const text = p.metricsPrometheus();
  for (const url of servers.map((x) => x.url)) {
    assert.ok(text.includes(`copilot_calls_total{server="${url}"}`), text);
    assert.ok(text.includes(`copilot_server_healthy{server="${url}"} 1`), text);
  }
  assert.ok(text.includes('copilot_pool_failovers_total 0'), text);
  await s.disconnect();
});

test('bad option types are invalid_config errors, at once', async () => {
  const bad = (f) =>
    assert.throws(f, (e) => {
      assert.ok(e instanceof CopilotError, String(e));
      assert.equal(e.code, ErrorCodes.INVALID_CONFIG, e.message);
      return true;
    });
  const ok = { urls: servers.map((s) => s.url) };
  bad(() => new CopilotPool());
  bad(() => new CopilotPool('127.0.0.1:1'));
  bad(() => new CopilotPool({ urls: 5 }));
  bad(() => new CopilotPool({ urls: [1, 2] }));
  bad(() => new CopilotPool({ urls: [] }));
  bad(() => new CopilotPool({ urls: ['a:1', 'a:1'] }));
  bad(() => new CopilotPool({}));
  bad(() => new CopilotPool({ ...ok, healthInterval: 'soon' }));
  bad(() => new CopilotPool({ ...ok, requestTimeout: 'x' }));
  bad(() => new CopilotPool({ ...ok, cliUrl: '127.0.0.1:1' }));
  bad(() => new CopilotPool({ ...ok, reconnect: false })); // failover starts from a lost connection
  bad(() => new CopilotPool({ ...ok, reconnect: 'yes' }));
  bad(() => new CopilotPool({ ...ok, noSuchOption: 1 }));
  bad(() => new CopilotPool({ ...ok, lease: 'redis://127.0.0.1:1' }));
  bad(() => new CopilotPool({ ...ok, lease: {} }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: 42 } }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: 'http://127.0.0.1:1' } }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: redis.url, ttl: 'long' } }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: redis.url, ttl: 0.1 } }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: redis.url, wait: -1 } }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: redis.url, owner: 7 } }));
  bad(() => new CopilotPool({ ...ok, lease: { redisUrl: redis.url, nope: 1 } }));
  const p = pool();
  const client = new CopilotClient({ cliUrl: servers[0].url, autoStart: false });
  for (const target of [p, client]) {
    await assert.rejects(target.cleanupSessions({}), (e) => e.code === ErrorCodes.INVALID_CONFIG);
    await assert.rejects(target.cleanupSessions({ maxIdle: 'x' }), (e) => e.code === ErrorCodes.INVALID_CONFIG);
    await assert.rejects(target.cleanupSessions({ maxAge: 1, includeOpen: 'yes' }), (e) => e.code === ErrorCodes.INVALID_CONFIG);
    await assert.rejects(target.cleanupSessions(null), (e) => e.code === ErrorCodes.INVALID_CONFIG);
    bad(() => target.startReaper(0, { maxAge: 1 }));
    bad(() => target.startReaper('1', { maxAge: 1 }));
    bad(() => target.startReaper(1, { maxAge: -1 }));
    bad(() => target.startReaper(1, {}));
    bad(() => target.startReaper(1, { maxAge: 1, onSweep: 'x' }));
  }
  bad(() => p.undrain('not-a-member:1'));
  bad(() => setLogHandler('loud'));
  bad(() => setLogHandler(() => {}, { level: 'loud' }));
  await assert.rejects(p.resumeSession(''), (e) => e.code === ErrorCodes.INVALID_CONFIG);
  await assert.rejects(p.createSession({ ...cfg(), onPermissionRequest: 'yes' }), (e) => e.code === ErrorCodes.INVALID_CONFIG);
  // No server reachable: typed and retriable.
  const dead = new CopilotPool({ urls: ['127.0.0.1:1'], startTimeout: 2 });
  pools.push(dead);
  const e = await failure(dead.createSession(cfg()), 30000, 'a pool with no live server');
  assert.equal(e.code, ErrorCodes.NO_SERVER, e.message);
  assert.ok(e.isRetriable);
  assert.equal(dead.serverFor('x'), undefined);
});

test('a pool does not keep Node alive: after stop(), without stop(), with a reaper and a log handler', async () => {
  const urls = servers.map((s) => s.url);
  for (const [name, tail] of [
    ['stop', "console.log('errors', (await pool.stop()).length);"],
    ['no stop', "console.log('left open');"],
  ]) {
    const r = await runNode(
      [
        '--input-type=module',
        '-e',
        `import { CopilotPool, setLogHandler } from '@copilot-hub/node';
         setLogHandler(() => {}, { level: 'debug' });
         const pool = new CopilotPool({ urls: ${JSON.stringify(urls)}, lease: { redisUrl: '${redis.url}', keyPrefix: 'keepalive-${process.pid}:' } });
         const s = await pool.createSession({ model: 'gpt-4.1', provider: ${JSON.stringify(model.provider)} });
         s.on(() => {});
         console.log((await s.sendAndWait({ prompt: 'REPLY pooled bye' })).data.content, s.leaseToken > 0);
         pool.startReaper(3600, { maxAge: 86400, onSweep: () => {} });
         ${tail}`,
      ],
      { ms: 90000 },
    );
    assert.equal(r.timedOut, false, `${name}: the pool kept the process alive`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pooled bye true/);
  }
});
