// Runs the shared, language-neutral scenarios of tests/scenarios/ against the real CLI (the
// Node twin of core/tests/scenarios.rs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectShared, startFakeModel, stopSharedCli } from './helpers.mjs';

const dir = process.env.COPILOT_SCENARIOS_DIR;
if (!dir) throw new Error('COPILOT_SCENARIOS_DIR is not set (bindings-node/test.sh sets it)');

const NAMES = [
  'plain_turn',
  'streaming_deltas',
  'tool_round_trip',
  'tool_failure',
  'permission_approve',
  'permission_reject',
  'permission_handler_fails',
  'user_input',
  'hooks',
  'model_error',
];

const SESSION_KEYS = new Set(['streaming', 'tools', 'permission', 'permissionFeedback', 'userInput', 'hooks']);
const EXPECT_KEYS = new Set([
  'answer', 'answerContains', 'error', 'events', 'noEvents', 'toolComplete', 'hooks', 'permissionKinds',
  'userInputQuestions', 'deltasConcatenate',
]);

after(() => stopSharedCli());

test('every scenario file is run', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  assert.deepEqual(files, [...NAMES].sort(), 'tests/scenarios and the runner list differ');
});

function buildConfig(s, model, seen) {
  for (const k of Object.keys(s)) assert.ok(SESSION_KEYS.has(k), `unknown scenario session key ${k}`);
  const c = { model: 'gpt-4.1', provider: model.provider };
  if (s.streaming !== undefined) c.streaming = s.streaming;
  if (s.tools) {
    c.tools = s.tools.map((t) => ({
      name: t.name,
      description: t.description,
      parameters: t.parameters,
      skipPermission: t.skipPermission ?? false,
      // Alternate sync and async handlers: both are supported.
      handler: t.fail !== undefined
        ? async () => { throw new Error(t.fail); }
        : () => t.result ?? '',
    }));
  }
  if (s.permission) {
    c.onPermissionRequest = async (req) => {
      seen.permissionKinds.push(req.kind);
      if (s.permission === 'fail') throw new Error('permission handler exploded');
      if (s.permission === 'reject') return { kind: 'reject', feedback: s.permissionFeedback };
      return s.permission;
    };
  }
  if (s.userInput) {
    c.onUserInputRequest = (req) => {
      seen.questions.push(req.question);
      if (s.userInput.fail) throw new Error(s.userInput.fail);
      return { answer: s.userInput.answer, wasFreeform: false };
    };
  }
  if (s.hooks) {
    c.hooks = {
      onHook: (hookType) => {
        seen.hooks.push(hookType);
        return undefined;
      },
    };
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

for (const name of NAMES) {
  test(`scenario ${name}`, async () => {
    const sc = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    assert.equal(sc.name, name);
    const model = await startFakeModel();
    const client = await connectShared();
    try {
      let seen = { permissionKinds: [], questions: [], hooks: [] };
      const session = await client.createSession(buildConfig(sc.session, model, seen));
      for (const [i, turn] of sc.turns.entries()) {
        const ctx = `${name} turn ${i}`;
        seen.permissionKinds.length = 0;
        seen.questions.length = 0;
        seen.hooks.length = 0;
        const evs = [];
        const off = session.on((e) => evs.push(e));
        let result;
        let error;
        try {
          result = await session.sendAndWait({ prompt: turn.prompt }, 90000);
        } catch (e) {
          error = e;
        }
        off();
        const types = evs.map((e) => e.type);
        const x = turn.expect;
        for (const k of Object.keys(x)) assert.ok(EXPECT_KEYS.has(k), `unknown expect key ${k}`);
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
        for (const t of x.noEvents ?? []) assert.ok(!types.includes(t), `${ctx}: unexpected ${t}`);
        if (x.toolComplete) {
          const last = evs.filter((e) => e.type === 'tool.execution_complete').at(-1);
          assert.ok(last, `${ctx}: no tool.execution_complete`);
          assert.equal(last.data.success, x.toolComplete.success, JSON.stringify(last.data));
          if (x.toolComplete.contains) assert.ok(JSON.stringify(last.data).includes(x.toolComplete.contains), JSON.stringify(last.data));
        }
        if (x.permissionKinds) assert.deepEqual(seen.permissionKinds, x.permissionKinds, ctx);
        if (x.userInputQuestions) assert.deepEqual(seen.questions, x.userInputQuestions, ctx);
        assertSubsequence(`${ctx} hooks`, x.hooks ?? [], seen.hooks);
        if (x.deltasConcatenate) {
          const id = result.data.messageId;
          const deltas = evs.filter((e) => e.type === 'assistant.message_delta' && e.data.messageId === id);
          assert.ok(deltas.length >= 2, `${ctx}: ${types}`);
          assert.equal(deltas.map((e) => e.data.deltaContent).join(''), answer, ctx);
        }
      }
      await session.disconnect();
    } finally {
      await client.stop();
      model.close();
    }
  });
}
