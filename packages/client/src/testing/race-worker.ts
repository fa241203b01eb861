/**
 * Test support: one instance of an integration, run as its own process by `refresh-race.test.ts`.
 * It opens the shared token store and the distributed lock, prints `ready`, waits for `go` on stdin,
 * makes `calls` concurrent API calls through one connection whose access token has expired, and
 * prints one JSON line with the outcome. Argument: the JSON `RaceWorkerConfig`.
 */
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { createManualClock } from '../clock.ts';
import { createGatehouseClient } from '../gatehouse-client.ts';
import type { RefreshLock } from '../lock.ts';
import { createPostgresLock } from '../locks/postgres.ts';
import { createRedisLock } from '../locks/redis.ts';
import { tokenFingerprint, type LogEntry } from '../logging.ts';
import { createPostgresTokenStore } from '../stores/postgres.ts';
import { createSqliteTokenStore } from '../stores/sqlite.ts';
import type { TokenStore } from '../token-store.ts';

export interface RaceWorkerConfig {
  issuer: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  connectionId: string;
  encryptionKeys: string;
  nowSeconds: number;
  calls: number;
  store: { kind: 'postgres'; url: string; schema: string } | { kind: 'sqlite'; path: string };
  lock: { kind: 'postgres'; url: string } | { kind: 'redis'; url: string; keyPrefix: string };
}

export interface RaceWorkerResult {
  statuses: number[];
  errors: string[];
  /** Fingerprints of the access tokens the calls ended up with. */
  accessTokenFingerprints: string[];
  logs: LogEntry[];
}

const config = JSON.parse(process.argv[2]!) as RaceWorkerConfig;
// Only the driver a run needs is loaded: worker start-up time is most of the test's time.
let pool: pg.Pool | undefined;
if (config.store.kind === 'postgres' || config.lock.kind === 'postgres') {
  const { default: postgres } = await import('pg');
  pool = new postgres.Pool({ connectionString: config.store.kind === 'postgres' ? config.store.url : (config.lock as { url: string }).url, max: 4 });
}
const redis = config.lock.kind === 'redis' ? (await import('redis')).createClient({ url: config.lock.url }) : undefined;
await redis?.connect();

const store: TokenStore = config.store.kind === 'postgres'
  ? await createPostgresTokenStore({ pool: pool!, schema: config.store.schema })
  : createSqliteTokenStore({ path: config.store.path });
const lock: RefreshLock = config.lock.kind === 'postgres'
  ? createPostgresLock({ pool: pool! })
  : createRedisLock({ client: redis!, keyPrefix: config.lock.keyPrefix });

const logs: LogEntry[] = [];
const client = createGatehouseClient({
  issuer: config.issuer, apiUrl: config.apiUrl, clientId: config.clientId, clientSecret: config.clientSecret, redirectUri: config.redirectUri,
  scope: 'users:read vendors:read', store, lock, encryptionKeys: config.encryptionKeys, clock: createManualClock(config.nowSeconds),
  logger: (entry) => logs.push(entry),
});
await client.discover();
process.stdout.write('ready\n');

const input = createInterface({ input: process.stdin });
for await (const line of input) if (line.trim() === 'go') break;
input.close();

const outcomes = await Promise.allSettled(Array.from({ length: config.calls }, async () => {
  const response = await client.fetch(config.connectionId, '/v1/introspect');
  await response.arrayBuffer();
  return response.status;
}));
const result: RaceWorkerResult = {
  statuses: outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : [])),
  errors: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error)?.message ?? outcome.reason)] : [])),
  accessTokenFingerprints: [tokenFingerprint(await client.getAccessToken(config.connectionId))],
  logs,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
await store.close();
await pool?.end();
await redis?.close();
