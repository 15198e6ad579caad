// The official OpenAI SDK, pointed at Warden with a Warden key.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { wardenURL, wardenKey, fail, requests, reset } from './common.mjs';

// maxRetries: 0 so that every retry seen is Warden's own, not the SDK's.
const client = new OpenAI({ apiKey: wardenKey, baseURL: `${wardenURL}/v1`, maxRetries: 0 });

beforeEach(reset);

test('chat completion', async () => {
  const res = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
    temperature: 0.2,
  });
  assert.equal(res.object, 'chat.completion');
  assert.match(res.choices[0].message.content, /Hello/);
  assert.ok(res.usage.prompt_tokens > 0);
  assert.ok(res.usage.completion_tokens > 0);
  // Warden answered with its own request id.
  const seen = await requests();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].body.temperature, 0.2, 'unknown fields reach the upstream unchanged');
});

test('streaming chat without usage: the usage chunk Warden asked for is stripped', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
    stream: true,
  });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.usage ?? null, null, 'caller did not ask for usage');
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(chunks > 2, `got ${chunks} chunks`);
  assert.match(text, /Hello/);
  const seen = await requests();
  assert.equal(seen[0].body.stream_options.include_usage, true, 'Warden asks the upstream for usage');
});

test('streaming chat with usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(usage, 'usage chunk delivered');
  assert.ok(usage.total_tokens > 0);
});

test('embeddings', async () => {
  const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world' });
  assert.equal(res.data.length, 1);
  assert.ok(res.data[0].embedding.length > 0);
});

test('models list shows only what the key may use', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ['claude-3-5-haiku', 'gpt-4o-mini', 'text-embedding-3-small'], 'gpt-4o exists but is outside the key');
});

test('a bad key raises the SDK authentication error', async () => {
  const bad = new OpenAI({ apiKey: 'wdn_' + 'x'.repeat(40), baseURL: `${wardenURL}/v1`, maxRetries: 0 });
  await assert.rejects(
    bad.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err.constructor.name}`);
      assert.equal(err.status, 401);
      return true;
    },
  );
  assert.equal((await requests()).length, 0, 'nothing reached the upstream');
});

test('a 429 from the provider is retried by Warden', async () => {
  await fail('/v1/chat/completions', 1, { status: 429, retry_after: '0' });
  const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.match(res.choices[0].message.content, /Hello/);
  assert.equal((await requests()).length, 2, 'one failed try and one retry upstream');
});

test('a provider 500 reaches the caller in the OpenAI error shape', async () => {
  await fail('/v1/chat/completions', 100, { status: 500, message: 'upstream exploded' });
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError, `got ${err.constructor.name}`);
      assert.equal(err.status, 502);
      assert.match(err.message, /upstream exploded/);
      assert.equal(err.type, 'api_error');
      assert.equal(err.code, 'upstream_error');
      assert.ok(err.headers.get('x-request-id'), 'every response carries x-request-id');
      return true;
    },
  );
});

test('a stream the upstream breaks off raises in the SDK instead of ending quietly', async () => {
  await fail('/v1/chat/completions', 1, { truncate_after_chunks: 2 });
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
    stream: true,
  });
  let chunks = 0;
  await assert.rejects(async () => {
    for await (const _ of stream) chunks++;
  }, (err) => {
    assert.match(err.message, /broke off the stream/);
    return true;
  });
  assert.ok(chunks >= 1, 'chunks before the cut were delivered');
});
