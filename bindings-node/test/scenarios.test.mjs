// Runs the shared, language-neutral scenarios of tests/scenarios/ against the real CLI (the
// Node twin of core/tests/scenarios.rs): every file of the folder, every field of the format.
// The handlers record what they received (the core's payload) and return the scenario's
// replies as they are (bare forms included: the core reads them).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { connectShared, startFakeModel, stopSharedCli } from './helpers.mjs';

const dir = process.env.COPILOT_SCENARIOS_DIR;
if (!dir) throw new Error('COPILOT_SCENARIOS_DIR is not set (bindings-node/test.sh sets it)');

const FILES = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const ran = new Set();

const SESSION_KEYS = new Set(['streaming', 'tools', 'permission', 'permissionFeedback', 'userInput', 'hooks', 'systemMessage', 'mode', 'handlers']);
const TURN_KEYS = new Set(['prompt', 'expect', 'subscribe']);
const EXPECT_KEYS = new Set([
  'answer', 'answerContains', 'error', 'events', 'noEvents', 'toolComplete', 'hooks', 'permissionKinds',
  'userInputQuestions', 'deltasConcatenate', 'requests', 'eventData', 'filteredEvents', 'resultAfterEvents',
]);

after(() => stopSharedCli());

const cap = (s) => s[0].toUpperCase() + s.slice(1);

/** A scenario answer: `{reply}`, `{replies: [...]}` (one per call, the last repeats) or `{fail}`. */
function answerer(spec) {
  let calls = 0;
  return () => {
    if (spec.fail !== undefined) throw new Error(spec.fail);
    if (Array.isArray(spec.replies)) {
      const v = spec.replies[Math.min(calls, spec.replies.length - 1)];
      calls++;
      return v;
    }
    return spec.reply ?? null;
  };
}

/** The session config of a scenario; `requests` receives `{kind, payload}` of every host request. */
function buildConfig(s, model, requests) {
  for (const k of Object.keys(s)) assert.ok(SESSION_KEYS.has(k), `unknown scenario session key ${k}`);
  const c = { model: 'gpt-4.1', provider: model.provider };
  for (const k of ['streaming', 'systemMessage', 'mode']) if (s[k] !== undefined) c[k] = s[k];
  const handler = (kind, spec) => {
    const next = answerer(spec);
    return (payload) => {
      requests.push({ kind, payload });
      return next();
    };
  };
  if (s.tools) {
    c.tools = s.tools.map(({ result, fail, reply, ...decl }, i) => {
      const spec = result !== undefined ? { reply: result } : fail !== undefined ? { fail } : { reply: reply ?? null };
      const next = answerer(spec);
      // Alternate sync and async handlers: both are supported.
      const handler = i % 2 === 0
        ? (_args, invocation) => {
            requests.push({ kind: 'tool', payload: invocation });
            return next();
          }
        : async (_args, invocation) => {
            requests.push({ kind: 'tool', payload: invocation });
            return next();
          };
      return { ...decl, handler };
    });
  }
  // The first scenarios' short forms.
  if (s.permission !== undefined) {
    const spec = s.permission === 'fail'
      ? { fail: 'permission handler exploded' }
      : s.permission === 'reject'
        ? { reply: { kind: 'reject', feedback: s.permissionFeedback } }
        : { reply: s.permission };
    c.onPermissionRequest = handler('permission', spec);
  }
  if (s.userInput !== undefined) {
    c.onUserInputRequest = handler('userInput', s.userInput.fail !== undefined ? { fail: s.userInput.fail } : { reply: s.userInput });
  }
  if (s.hooks === true) c.hooks = { onHook: handler('hook', { reply: null }) };
  // The general form: raw replies per kind, in the option the package documents for it
  // (on<Kind>, or on<Kind>Request), and hooks by type.
  for (const [kind, spec] of Object.entries(s.handlers ?? {})) {
    if (kind === 'hooks') {
      c.hooks = Object.fromEntries(Object.entries(spec).map(([type, h]) => [type, handler('hook', h)]));
    } else {
      c[`on${cap(kind)}`] = handler(kind, spec);
    }
  }
  return c;
}

function assertSubsequence(what, want, got) {
  let i = 0;
  for (const w of want) {
    while (i < got.length && got[i] !== w) i++;
    assert.ok(i < got.length, `${what}: expected ${JSON.stringify(want)} in order, got ${JSON.stringify(got)}`);
    i++;
  }
}

const PATTERNS = {
  '<string>': (v) => typeof v === 'string',
  '<number>': (v) => typeof v === 'number',
  '<bool>': (v) => typeof v === 'boolean',
  '<object>': (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  '<array>': (v) => Array.isArray(v),
  '<any>': () => true,
  '<string|null>': (v) => v === null || typeof v === 'string',
};

/**
 * Matches a value against a scenario pattern: placeholders, `<sessionId>`; objects with exactly
 * the pattern's keys (`subset`: at least them); arrays element by element; anything else equal.
 */
function match(pattern, value, sid, subset, at) {
  const fail = () => assert.fail(`${at}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(value)}`);
  if (typeof pattern === 'string' && pattern.startsWith('<') && pattern.endsWith('>')) {
    const ok = pattern === '<sessionId>' ? value === sid : PATTERNS[pattern];
    assert.ok(ok !== undefined, `unknown pattern ${pattern}`);
    if (!(typeof ok === 'function' ? ok(value) : ok)) fail();
  } else if (Array.isArray(pattern)) {
    if (!Array.isArray(value) || value.length !== pattern.length) fail();
    pattern.forEach((p, i) => match(p, value[i], sid, subset, `${at}[${i}]`));
  } else if (pattern !== null && typeof pattern === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail();
    if (!subset) {
      assert.deepEqual(Object.keys(value).sort(), Object.keys(pattern).sort(), `${at}: keys of ${JSON.stringify(value)}`);
    }
    for (const [k, p] of Object.entries(pattern)) {
      assert.ok(k in value, `${at}: no \`${k}\` in ${JSON.stringify(value)}`);
      match(p, value[k], sid, subset, `${at}.${k}`);
    }
  } else if (pattern !== value) {
    fail();
  }
}

test('payload patterns', () => {
  const p = { sessionId: '<sessionId>', n: '<number>', o: { a: [1, '<string>'] }, x: '<string|null>' };
  match(p, { sessionId: 's', n: 1, o: { a: [1, 'b'] }, x: null }, 's', false, 'p');
  assert.throws(() => match(p, { sessionId: 't', n: 1, o: { a: [1, 'b'] }, x: null }, 's', false, 'p'));
  assert.throws(() => match(p, { sessionId: 's', n: 1, o: { a: [1, 'b'] }, x: null, more: 1 }, 's', false, 'p'));
  match({ a: 1 }, { a: 1, b: 2 }, 's', true, 'p');
  assert.throws(() => match({ a: [1] }, { a: [1, 2] }, 's', true, 'p'));
});

async function runScenario(sc, name) {
  const model = await startFakeModel();
  const client = await connectShared();
  try {
    const requests = [];
    const session = await client.createSession(buildConfig(sc.session, model, requests));
    const sid = session.sessionId;
    for (const [i, turn] of sc.turns.entries()) {
      const ctx = `${name} turn ${i}`;
      for (const k of Object.keys(turn)) assert.ok(TURN_KEYS.has(k), `unknown turn key ${k}`);
      const x = turn.expect;
      for (const k of Object.keys(x)) assert.ok(EXPECT_KEYS.has(k), `unknown expect key ${k}`);
      requests.length = 0;
      const evs = [];
      const offAll = session.on((e) => evs.push(e));
      const filtered = [];
      const offFiltered = turn.subscribe ? session.on(turn.subscribe, (e) => filtered.push(e.type)) : () => {};
      let result;
      let error;
      try {
        result = await session.sendAndWait({ prompt: turn.prompt }, 90000);
      } catch (e) {
        error = e;
      }
      // Have the turn's events reached the listener before the result?
      const idleSeen = evs.some((e) => e.type === 'session.idle');
      offAll();
      offFiltered();
      const types = evs.map((e) => e.type);
      if (x.error) {
        assert.ok(error, `${ctx}: expected an error`);
        assert.equal(error.code, x.error, `${ctx}: ${error}`);
        continue;
      }
      if (error) throw error;
      const answer = result?.data.content ?? '';
      if (x.answer !== undefined) assert.equal(answer, x.answer, ctx);
      for (const s of x.answerContains ?? []) assert.ok(answer.includes(s), `${ctx}: answer ${JSON.stringify(answer)} lacks ${s}`);
      assertSubsequence(ctx, x.events ?? [], types);
      for (const t of x.noEvents ?? []) assert.ok(!types.includes(t), `${ctx}: unexpected ${t} in ${types}`);
      if (x.toolComplete) {
        const last = evs.filter((e) => e.type === 'tool.execution_complete').at(-1);
        assert.ok(last, `${ctx}: no tool.execution_complete`);
        assert.equal(last.data.success, x.toolComplete.success, JSON.stringify(last.data));
        if (x.toolComplete.contains) assert.ok(JSON.stringify(last.data).includes(x.toolComplete.contains), JSON.stringify(last.data));
      }
      const payloadsOf = (kind) => requests.filter((r) => r.kind === kind).map((r) => r.payload);
      if (x.permissionKinds) assert.deepEqual(payloadsOf('permission').map((p) => p.kind), x.permissionKinds, ctx);
      if (x.userInputQuestions) assert.deepEqual(payloadsOf('userInput').map((p) => p.question), x.userInputQuestions, ctx);
      assertSubsequence(`${ctx} hooks`, x.hooks ?? [], payloadsOf('hook').map((p) => p.hookType));
      if (x.requests) {
        assert.equal(requests.length, x.requests.length, `${ctx}: host requests ${JSON.stringify(requests)}`);
        x.requests.forEach((want, j) => match(want, requests[j], sid, false, `${ctx} request ${j}`));
      }
      for (const [type, want] of Object.entries(x.eventData ?? {})) {
        const ev = evs.filter((e) => e.type === type).at(-1);
        assert.ok(ev, `${ctx}: no ${type} event in ${types}`);
        match(want, ev.data, sid, true, `${ctx} ${type}`);
      }
      if (x.filteredEvents) assert.deepEqual(filtered, x.filteredEvents, `${ctx}: filtered subscription`);
      if (x.resultAfterEvents) assert.ok(idleSeen, `${ctx}: the result arrived before the turn's session.idle reached the listener`);
      if (x.deltasConcatenate) {
        const id = result.data.messageId;
        const deltas = evs.filter((e) => e.type === 'assistant.message_delta' && e.data.messageId === id);
        assert.ok(types.filter((t) => t === 'assistant.message_delta').length >= 2, `${ctx}: ${types}`);
        assert.equal(deltas.map((e) => e.data.deltaContent).join(''), answer, ctx);
      }
    }
    await session.disconnect();
  } finally {
    await client.stop();
    model.close();
  }
}

// The addon itself (the package's private half), for the core's list of request kinds.
const native = createRequire(import.meta.url)(join(dirname(createRequire(import.meta.url).resolve('@copilot-hub/node')), 'native.js'));

for (const file of FILES) {
  const name = file.slice(0, -'.json'.length);
  const content = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  if (Array.isArray(content)) {
    // request-kinds.json (generated from the core): the addon has the same list, and a session
    // takes a handler for each kind (on<Kind>; tools and hooks have their own options).
    test(`request kinds: ${file}`, async () => {
      assert.deepEqual(native.requestKinds(), content);
      const model = await startFakeModel();
      const client = await connectShared();
      try {
        const config = { model: 'gpt-4.1', provider: model.provider, hooks: { onHook: () => null } };
        config.tools = [{ name: 'noop', handler: () => '' }];
        for (const kind of content) if (kind !== 'tool' && kind !== 'hook') config[`on${cap(kind)}`] = () => null;
        // An option the package did not map to a kind would be refused (invalid_config).
        const session = await client.createSession(config);
        await session.disconnect();
      } finally {
        await client.stop();
        model.close();
      }
      ran.add(file);
    });
    continue;
  }
  test(`scenario ${name}`, async () => {
    assert.equal(content.name, name);
    await runScenario(content, name);
    ran.add(file);
  });
}

test('every scenario file was run', () => {
  assert.deepEqual([...ran].sort(), FILES, 'a file of tests/scenarios was not run (or failed)');
});
