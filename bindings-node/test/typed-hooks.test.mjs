// Typed hooks against the real CLI: the handlers of the hook types of the generated `HookTypes`
// table receive `{sessionId, hookType, input}` with the typed input (PreToolUseHookInput, …) and
// answer the typed output, passed to the CLI as is.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { HOOK_TYPES, approveAll, strictTypes } from '@copilot-hub/node';
import { connectShared, startFakeModel, stopSharedCli } from './helpers.mjs';

after(() => stopSharedCli());

const plausibleMillis = (ts) => typeof ts === 'number' && Math.abs(ts - Date.now()) < 86_400_000;

test('typed preToolUse, userPromptSubmitted and postToolUse hooks', async () => {
  const model = await startFakeModel();
  try {
    const client = await connectShared();
    const marker = `typed-hook-context-${process.pid}-${Date.now()}`;
    const pre = [];
    const prompts = [];
    const post = [];
    const invocations = [];
    const strictBefore = strictTypes.enabled ? strictTypes.report()?.results ?? 0 : 0;
    const session = await client.createSession({
      model: 'gpt-4.1',
      provider: model.provider,
      onPermissionRequest: approveAll,
      tools: [
        {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
          skipPermission: true,
          handler: ({ city }) => `Sunny in ${city}`,
        },
      ],
      hooks: {
        onPreToolUse: (request, invocation) => {
          pre.push(request);
          invocations.push(invocation);
          const { input } = request;
          return input.toolName === 'get_weather' && input.toolArgs?.city === 'Rome'
            ? { permissionDecision: 'deny', permissionDecisionReason: 'typed hooks say no' }
            : undefined;
        },
        userPromptSubmitted: async (request, invocation) => {
          prompts.push(request);
          invocations.push(invocation);
          return { additionalContext: marker };
        },
        onPostToolUse: (request, invocation) => {
          post.push(request);
          invocations.push(invocation);
          return null;
        },
      },
    });
    const denied = await session.sendAndWait('CALL get_weather {"city":"Rome"}');
    assert.match(denied.data.content, /Denied by preToolUse hook: typed hooks say no/);
    // The userPromptSubmitted hook's additionalContext reached the model (a system reminder).
    assert.ok(JSON.stringify(model.chatRequests().map((r) => r.body.messages)).includes(marker), 'the additional context reached the model');
    const allowed = await session.sendAndWait('CALL get_weather {"city":"Paris"}');
    assert.equal(allowed.data.content, 'Tool returned: Sunny in Paris');

    assert.equal(pre.length, 2);
    assert.equal(prompts.length, 2);
    assert.equal(post.length, 1);
    for (const r of pre) {
      assert.equal(r.hookType, 'preToolUse');
      assert.equal(r.sessionId, session.sessionId);
      assert.equal(r.input.toolName, 'get_weather');
      assert.equal(r.input.sessionId, session.sessionId);
      assert.ok(plausibleMillis(r.input.timestamp), `timestamp ${r.input.timestamp}`);
      assert.ok(typeof r.input.cwd === 'string' && r.input.cwd.length > 0, `cwd ${r.input.cwd}`);
    }
    assert.deepEqual(pre.map((r) => r.input.toolArgs), [{ city: 'Rome' }, { city: 'Paris' }]);
    ['CALL get_weather {"city":"Rome"}', 'CALL get_weather {"city":"Paris"}'].forEach((want, i) => {
      const { hookType, input } = prompts[i];
      assert.equal(hookType, 'userPromptSubmitted');
      assert.ok(input.prompt.includes(want), `prompt ${input.prompt}`);
      assert.equal(input.sessionId, session.sessionId);
      assert.ok(plausibleMillis(input.timestamp));
    });
    assert.equal(post[0].input.toolName, 'get_weather');
    assert.match(post[0].input.toolResult?.textResultForLlm ?? '', /Sunny in Paris/);
    for (const inv of invocations) assert.deepEqual({ ...inv }, { sessionId: session.sessionId });
    // Strict mode (test.sh): each typed hook input was checked against its generated type.
    if (strictTypes.enabled) assert.ok(strictTypes.report().results - strictBefore >= 5);
    await session.disconnect();
  } finally {
    model.close();
  }
});

test('the hook table names generated types; strict mode fails an input its type cannot read', () => {
  const checker = strictTypes.checker();
  for (const [type, { input, output }] of Object.entries(HOOK_TYPES)) {
    assert.equal(input, `${type[0].toUpperCase()}${type.slice(1)}HookInput`);
    assert.equal(output, `${type[0].toUpperCase()}${type.slice(1)}HookOutput`);
    checker.value(output, {}, output); // outputs are all optional
  }
  assert.equal(checker.report().failures, 0);
  checker.value(HOOK_TYPES.preToolUse.input, { sessionId: 's', timestamp: 1, cwd: '/' }, 'preToolUse input');
  checker.value(HOOK_TYPES.postToolUse.input, { sessionId: 's', timestamp: '1', cwd: '/', toolName: 't' }, 'postToolUse input');
  const r = checker.report();
  assert.equal(r.failures, 2, JSON.stringify(r.failureSamples));
  assert.match(r.failureSamples.join('\n'), /required field `toolName` is missing[\s\S]*timestamp: expected a number/);
});
