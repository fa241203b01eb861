/**
 * How long client authentication takes to refuse an unknown client_id, and a wrong secret for an existing
 * client (SPEC decision 9: an attacker must not tell the two apart by timing, which would enumerate client
 * IDs). Calls `authenticateClient` in process on real storage (SQLite in memory and on a WAL file, and
 * PostgreSQL when reachable), the two paths interleaved call by call so that machine noise falls on both
 * alike; prints each path's median and the difference of the medians. Then the same over HTTP: POST
 * /oauth/token on a real listening server (SQLite in memory, rate limits off) over one keep-alive
 * connection, `--http-iterations` of each.
 *
 * Usage: node bench/client-authentication.ts [--iterations 20000] [--warmup 2000] [--http-iterations 5000]
 * PostgreSQL: postgres://postgres@127.0.0.1:5432/test (BENCH_POSTGRES_URL overrides it), in a schema of its
 * own that is dropped at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createAuthorizationServer } from '../packages/authorization-server/src/authorization-server.ts';
import { authenticateClient } from '../packages/authorization-server/src/clients/client-authentication.ts';
import { digestClientSecret, generateClientSecret } from '../packages/authorization-server/src/clients/client-secret.ts';
import { createPostgresStorage } from '../packages/authorization-server/src/storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts';
import type { ClientRecord, Storage } from '../packages/authorization-server/src/storage/storage.ts';
import { median } from './median.ts';

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '20000' }, warmup: { type: 'string', default: '2000' }, 'http-iterations': { type: 'string', default: '5000' } },
});
const ITERATIONS = Number(values.iterations);
const HTTP_ITERATIONS = Number(values['http-iterations']);
const WARMUP = Number(values.warmup);
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** HTTP Basic as a client sends it (RFC 6749 §2.3.1). */
const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function client(): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: digestClientSecret(generateClientSecret()),
    redirectUris: ['https://ledgerly.example/oauth/callback'], scopes: ['users:read', 'vendors:read'], subjectType: 'company', pkceRequired: true,
    status: 'active', clientUri: 'https://ledgerly.example', logoUri: null, tosUri: 'https://ledgerly.example/terms', policyUri: 'https://ledgerly.example/privacy',
    audience: null, createdAt: 1_800_000_000, initiationUri: null, settingsUri: null, contacts: ['dev@ledgerly.example'], ownerUserId: null,
    previousSecretDigest: null, previousSecretExpiresAt: null, brandingVerified: true,
  };
}

/** Microseconds one refused authentication took. */
async function refusal(storage: Storage, authorization: string): Promise<number> {
  const started = process.hrtime.bigint();
  try {
    await authenticateClient(storage, authorization, {}, { allowPublicClients: true }, 1_800_000_000);
  } catch {
    return Number(process.hrtime.bigint() - started) / 1_000;
  }
  throw new Error('authentication succeeded where it must fail');
}

/** Runs the two paths interleaved (alternating which goes first) and prints their medians. */
async function compare(label: string, iterations: number, warmup: number, unknown: () => Promise<number>, wrongSecret: () => Promise<number>): Promise<void> {
  for (let i = 0; i < warmup; i++) {
    await unknown();
    await wrongSecret();
  }
  const samples = { unknown: [] as number[], wrongSecret: [] as number[] };
  for (let i = 0; i < iterations; i++) {
    if (i % 2) {
      samples.unknown.push(await unknown());
      samples.wrongSecret.push(await wrongSecret());
    } else {
      samples.wrongSecret.push(await wrongSecret());
      samples.unknown.push(await unknown());
    }
  }
  const [u, w] = [median(samples.unknown), median(samples.wrongSecret)];
  console.log(`${label.padEnd(24)} unknown client_id ${u.toFixed(1).padStart(7)} µs   wrong secret ${w.toFixed(1).padStart(7)} µs   difference ${(w - u).toFixed(1).padStart(6)} µs (medians of ${iterations})`);
}

async function measure(label: string, storage: Storage): Promise<void> {
  const existing = client();
  await storage.clients.create(existing);
  // A fresh unknown id and a fresh wrong secret each time, as an enumerating attacker sends them.
  await compare(label, ITERATIONS, WARMUP,
    () => refusal(storage, basic(randomUUID(), generateClientSecret())),
    () => refusal(storage, basic(existing.clientId, generateClientSecret())));
}

/** The same over HTTP: microseconds from sending POST /oauth/token to its 401 body read. */
async function measureHttp(): Promise<void> {
  const storage = createSqliteStorage(':memory:');
  const existing = client();
  await storage.clients.create(existing);
  const app = await createAuthorizationServer({
    issuer: 'http://127.0.0.1', environment: 'development', storage, accessTokenAudience: 'http://localhost:3001',
    tokenHmacKey: Buffer.alloc(32, 7), logger: false, oauthEndpointRateLimit: false,
  });
  const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/oauth/token`;
  const post = async (clientId: string) => {
    const started = process.hrtime.bigint();
    const response = await fetch(url, {
      method: 'POST', headers: { authorization: basic(clientId, generateClientSecret()), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=x',
    });
    await response.arrayBuffer();
    if (response.status !== 401) throw new Error(`expected 401, got ${response.status}`);
    return Number(process.hrtime.bigint() - started) / 1_000;
  };
  try {
    await compare('HTTP, SQLite (memory)', HTTP_ITERATIONS, Math.ceil(HTTP_ITERATIONS / 10), () => post(randomUUID()), () => post(existing.clientId));
  } finally {
    await app.close();
    await storage.close();
  }
}

console.log(`Client authentication refusals: median time per call, ${ITERATIONS} of each path interleaved after ${WARMUP} warm-up calls each`);
const memory = createSqliteStorage(':memory:');
try {
  await measure('SQLite (memory)', memory);
} finally {
  await memory.close();
}
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-bench-auth-'));
const file = createSqliteStorage(join(directory, 'gatehouse.sqlite'));
try {
  await measure('SQLite (WAL file)', file);
} finally {
  await file.close();
  rmSync(directory, { recursive: true, force: true });
}

const schema = `bench_auth_${process.pid}_${Date.now()}`;
let postgres: Storage | undefined;
try {
  postgres = await createPostgresStorage(POSTGRES_URL, { schema, poolSize: 2 });
} catch (error) {
  console.log(`PostgreSQL skipped: ${error instanceof Error ? error.message : String(error)}`);
}
if (postgres) {
  try {
    await measure('PostgreSQL', postgres);
  } finally {
    await postgres.close();
    const admin = new pg.Client({ connectionString: POSTGRES_URL, application_name: 'gatehouse-bench-auth' });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

if (HTTP_ITERATIONS > 0) await measureHttp();
