// The graphql-http server audit (GraphQL over HTTP conformance) against a running server.
//   node tests/js/audit.mjs http://127.0.0.1:3000/graphql
// Prints every result; exits 1 on any MUST failure (error) or SHOULD warning that is not in the
// allow-list below, and on an allow-listed audit that passes (so the list cannot go stale).
// MAY audits that fail are "notices" and are printed only.
import { serverAudits } from 'graphql-http';

// Audit id -> why the spec allows us to fail it. Keep it short; today it is empty.
const ALLOWED = {};

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <url of /graphql>');
  process.exit(2);
}

const results = await Promise.all(serverAudits({ url }).map((audit) => audit.fn()));
let failed = 0;
for (const r of results) {
  const allowed = Object.hasOwn(ALLOWED, r.id);
  let line = `${r.status.padEnd(6)} ${r.id} ${r.name}`;
  if (r.status !== 'ok') {
    let body = '';
    try {
      body = await r.response.text();
    } catch {
      body = '<unreadable body>';
    }
    line += `\n         ${r.reason}; got ${r.response.status} ${r.response.headers.get('content-type')} ${body.slice(0, 300)}`;
  }
  if ((r.status === 'error' || r.status === 'warn') && !allowed) {
    failed++;
    line = `FAIL   ${line}`;
  } else if (allowed && r.status === 'ok') {
    failed++;
    line = `FAIL   ${line}\n         (allow-listed but passes: remove it from ALLOWED)`;
  } else if (allowed) {
    line += `\n         allowed: ${ALLOWED[r.id]}`;
  }
  console.log(line);
}
console.log(`${results.length} audits, ${failed} failing`);
process.exit(failed === 0 ? 0 : 1);
