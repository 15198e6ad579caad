// The official Anthropic SDK, pointed at Warden with a Warden key. The SDK
// sends the key as x-api-key, which Warden accepts on Anthropic routes.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { wardenURL, wardenKey, requests, reset } from './common.mjs';

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
