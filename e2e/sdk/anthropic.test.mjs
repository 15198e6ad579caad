// The official Anthropic SDK, pointed at Warden with a Warden key. The SDK
// sends the key as x-api-key, which Warden accepts on Anthropic routes.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { wardenURL, wardenKey, fail, requests, reset } from './common.mjs';

const client = new Anthropic({ apiKey: wardenKey, baseURL: wardenURL, maxRetries: 0 });

beforeEach(reset);

test('messages', async () => {
  const msg = await client.messages.create({
    model: 'claude-3-5-haiku',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  assert.equal(msg.type, 'message');
  assert.match(msg.content[0].text, /Hello/);
  assert.ok(msg.usage.input_tokens > 0);
  const seen = await requests();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].body.model, 'claude-3-5-haiku-20241022', 'Warden sends the upstream model name');
});

test('streaming messages', async () => {
  const stream = client.messages.stream({
    model: 'claude-3-5-haiku',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  let deltas = 0;
  stream.on('text', () => { deltas++; });
  const msg = await stream.finalMessage();
  assert.ok(deltas > 1, `got ${deltas} text deltas`);
  assert.match(msg.content[0].text, /Hello/);
  assert.ok(msg.usage.output_tokens > 0);
});

test('a bad key raises the SDK authentication error', async () => {
  const bad = new Anthropic({ apiKey: 'wdn_' + 'y'.repeat(40), baseURL: wardenURL, maxRetries: 0 });
  await assert.rejects(
    bad.messages.create({ model: 'claude-3-5-haiku', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof Anthropic.AuthenticationError, `got ${err.constructor.name}`);
      assert.equal(err.status, 401);
      assert.equal(err.error.type, 'error', 'Anthropic error shape');
      assert.equal(err.error.error.type, 'authentication_error');
      return true;
    },
  );
});

test('a stream the upstream breaks off raises in the SDK instead of ending quietly', async () => {
  await fail('/v1/messages', 1, { truncate_after_chunks: 2 });
  const stream = await client.messages.create({
    model: 'claude-3-5-haiku',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Say hello' }],
    stream: true,
  });
  let events = 0;
  await assert.rejects(async () => {
    for await (const _ of stream) events++;
  }, (err) => {
    assert.match(err.message, /broke off the stream/);
    return true;
  });
  assert.ok(events >= 1, 'events before the cut were delivered');
});

test('models list through the Anthropic SDK (x-api-key)', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('claude-3-5-haiku'), `got ${ids}`);
  assert.ok(!ids.includes('gpt-4o'), 'only models the key may use');
  assert.equal((await requests()).length, 0, 'answered by Warden, not the upstream');
});
