/**
 * Issue 12: what one token lookup (`tokens.findByDigest`, introspection's and revocation's read) costs the
 * authorization server's process on PostgreSQL, without HTTP: CPU per lookup (`process.cpuUsage()`, user +
 * system, divided by the lookups) for one or more checkouts in ONE process, their rounds interleaved, so
 * that load from elsewhere on this shared machine falls on all of them alike. The table gives medians.
 *
 *   node bench/postgres-token-lookup.ts [--variant NAME=ROOT]... [--rounds 8] [--ops 6000] [--in-flight 32] [--help]
 *
 * Each variant imports its checkout's storage and test fixtures (ROOT: a checkout's directory; default the
 * current one as "this"), opens a storage on a schema of its own in `postgres://postgres@127.0.0.1:5432/test`
 * (`GATEHOUSE_TEST_DATABASE_URL` overrides it), stores 200 grants with their tokens, lets the client-record
 * cache start listening, then looks the access tokens up `--in-flight` at a time. The schema is dropped at
 * the end. Only the server's side is counted here: PostgreSQL's own CPU is not.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './median.ts';

const USAGE = 'node bench/postgres-token-lookup.ts [--variant NAME=ROOT]... [--rounds 8] [--ops 6000] [--in-flight 32] [--help]';
const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '8' },
    ops: { type: 'string', default: '6000' },
    'in-flight': { type: 'string', default: '32' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const rounds = Number(values.rounds);
const ops = Number(values.ops);
const inFlight = Number(values['in-flight']);
const specs = (values.variant ?? ['this=.']).map((spec) => {
  const [name, root] = spec.split('=');
  if (!name || !root) throw new Error(`--variant NAME=ROOT, got ${spec}\n${USAGE}`);
  return { name, root: resolve(root) };
});

interface Variant {
  name: string;
  storage: { tokens: { findByDigest(digest: string): Promise<unknown> }; close(): Promise<void> };
  digests: string[];
  cpuMicrosPerOp: number[];
  opsPerSecond: number[];
}

const variants: Variant[] = [];
for (const { name, root } of specs) {
  const { createTestPostgresStorage } = await import(`${root}/packages/authorization-server/src/testing/postgres.ts`);
  const { fixture, issueGrant } = await import(`${root}/packages/authorization-server/src/storage/contract/fixtures.ts`);
  const storage = await createTestPostgresStorage();
  const f = await fixture(storage);
  const digests: string[] = [];
  for (let i = 0; i < 200; i++) digests.push((await issueGrant(storage, f)).access.tokenDigest);
  variants.push({ name, storage, digests, cpuMicrosPerOp: [], opsPerSecond: [] });
}
// The client-record cache is bypassed until its listener has proven it listens (client-cache.ts).
await new Promise((resolve) => setTimeout(resolve, 1_000));

try {
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      let next = 0;
      const cpu = process.cpuUsage();
      const startedAt = performance.now();
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < ops) {
          const digest = variant.digests[next++ % variant.digests.length]!;
          if (!(await variant.storage.tokens.findByDigest(digest))) throw new Error(`${variant.name}: a stored token was not found`);
        }
      }));
      const used = process.cpuUsage(cpu);
      variant.cpuMicrosPerOp.push((used.user + used.system) / ops);
      variant.opsPerSecond.push(ops / ((performance.now() - startedAt) / 1000));
    }
  }
} finally {
  for (const variant of variants) await variant.storage.close();
}

console.log(`tokens.findByDigest on PostgreSQL · ${rounds} interleaved rounds × ${ops.toLocaleString('en-US')} lookups, ${inFlight} in flight`);
console.log('');
console.log('| variant | CPU µs/lookup (median) | each round | lookups/s (median) |');
console.log('|---|---:|---|---:|');
for (const variant of variants) {
  console.log(`| ${variant.name} | ${median(variant.cpuMicrosPerOp).toFixed(1)} | ${variant.cpuMicrosPerOp.map((value) => value.toFixed(0)).join(' ')} | ${Math.round(median(variant.opsPerSecond)).toLocaleString('en-US')} |`);
}
