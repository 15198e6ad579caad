// Shared set-up for the SDK tests. The Go test that runs them (e2e/sdk_test.go)
// starts the fake provider and Warden, and passes their addresses here.
import assert from 'node:assert/strict';

function need(name) {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run these tests through "go test ./e2e/"`);
  return v;
}

export const wardenURL = need('WARDEN_URL');
export const wardenKey = need('WARDEN_KEY');
export const fakeURL = need('FAKE_URL');

// fail queues a fault at the fake provider for the next n matching requests.
export async function fail(pathPrefix, n, fault) {
  const res = await fetch(`${fakeURL}/__fake/fail`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path_prefix: pathPrefix, n, fault }),
  });
  assert.equal(res.status, 204, `queue fault: HTTP ${res.status}`);
}

// requests returns what the fake provider received so far.
export async function requests() {
  const res = await fetch(`${fakeURL}/__fake/requests`);
  assert.equal(res.status, 200);
  return res.json();
}

export async function reset() {
  const res = await fetch(`${fakeURL}/__fake/reset`, { method: 'POST' });
  assert.equal(res.status, 204);
}
