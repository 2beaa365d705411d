// The graphql-ws client (the reference implementation of graphql-transport-ws) against a running
// server: a query and a subscription over the socket, complete from both sides, ping/pong, and a
// refused connection_init (close 4403).
//   node tests/js/ws-client.mjs ws://127.0.0.1:3000/graphql/ws
// Exits 1, saying which check failed, when any does.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];
if (!url) {
  console.error('usage: node ws-client.mjs <ws url of /graphql/ws>');
  process.exit(2);
}

function client(options = {}) {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, ...options });
}

function withTimeout(promise, what, ms = 10_000) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)),
  ]);
}

const checks = [];
async function check(name, fn) {
  try {
    await fn();
    checks.push({ name, ok: true });
  } catch (e) {
    checks.push({ name, ok: false, error: String(e && e.stack ? e.stack : e) });
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

await check('a query over the socket: next, then complete from the server', async () => {
  const c = client();
  const results = [];
  await withTimeout(
    new Promise((resolve, reject) => {
      c.subscribe({ query: '{ __typename }' }, {
        next: (r) => results.push(r),
        error: reject,
        complete: resolve,
      });
    }),
    'query',
  );
  await c.dispose();
  assert(results.length === 1, `one result, got ${JSON.stringify(results)}`);
  assert(results[0].data && results[0].data.__typename === 'Query', JSON.stringify(results[0]));
});

await check('a subscription completed by the client, ping answered with pong', async () => {
  let pongs = 0;
  let closed = null;
  const c = client({
    lazy: false, // stays connected after the last subscription
    keepAlive: 100, // the client pings every 100 ms; without a pong it closes the socket
    on: { pong: (received) => received && pongs++, closed: (e) => (closed = e) },
  });
  let completed = false;
  let errored = null;
  const unsubscribe = c.subscribe(
    { query: 'subscription { bookChanged { kind isbn } }' },
    { next: () => {}, error: (e) => (errored = e), complete: () => (completed = true) },
  );
  await new Promise((r) => setTimeout(r, 600));
  unsubscribe(); // sends complete
  await new Promise((r) => setTimeout(r, 200));
  assert(errored === null, `no error, got ${JSON.stringify(errored)}`);
  assert(completed, 'the sink completes after unsubscribe');
  assert(pongs >= 2, `pongs received: ${pongs}`);
  assert(closed === null, `socket still open, closed with ${closed && closed.code}`);
  await c.dispose();
});

await check('a refused connection_init closes with 4403', async () => {
  let closed = null;
  const c = client({
    connectionParams: { Authorization: 'Bearer not-a-token' },
    on: { closed: (e) => (closed = e) },
  });
  const error = await withTimeout(
    new Promise((resolve) => {
      c.subscribe({ query: '{ __typename }' }, { next: () => {}, error: resolve, complete: () => resolve(null) });
    }),
    'refused init',
  );
  await c.dispose();
  const code = (closed && closed.code) || (error && error.code);
  assert(code === 4403, `close code 4403, got ${code} (${(closed && closed.reason) || error})`);
});

for (const c of checks) {
  console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : `\n     ${c.error}`}`);
}
process.exit(checks.every((c) => c.ok) ? 0 : 1);
