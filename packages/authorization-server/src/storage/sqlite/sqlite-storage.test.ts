import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { digestClientSecret, generateClientSecret } from '../../clients/client-secret.ts';
import { createOpaqueTokenCodec } from '../../tokens/opaque-token.ts';
import { hashPassword } from '../../users/password.ts';
import type { ClientRecord, GrantRecord, Storage, TokenRecord } from '../storage.ts';
import { contractBackend, runStorageContract } from '../contract/index.ts';
import { rateLimitsContract } from '../contract/rate-limits.ts';
import { migrations } from './migrations.ts';
import { createSqliteStorage } from './sqlite-storage.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { failSqliteStatements } from '../../testing/sqlite-faults.ts';

runStorageContract('sqlite', () => createSqliteStorage(':memory:'), { rateLimitCounters: 'memory' });
// The opt-in (GATEHOUSE_RATE_LIMIT_COUNTERS=database): the same counters' suite on the file's table.
describe('storage contract: sqlite, rate-limit counters in the database', () => {
  rateLimitsContract(contractBackend('sqlite', () => createSqliteStorage(':memory:', { rateLimitCounters: 'database' })));
});

const NOW = 1_800_000_000;
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));
const databaseFile = (name: string) => join(temporaryDirectory, randomUUID(), `${name}.sqlite`);
const SQLITE_STORAGE_URL = new URL('./sqlite-storage.ts', import.meta.url).href;

function clientRecord(): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: digestClientSecret(generateClientSecret()),
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true, status: 'active',
    clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW,
    initiationUri: null, settingsUri: null, contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null,
    brandingVerified: true,
  };
}

/** A client, user, code and grant with a first token pair; returns the refresh token's digest. */
async function grantWithRefreshToken(storage: Storage) {
  const client = clientRecord();
  const userId = randomUUID();
  const companyId = randomUUID();
  await storage.clients.create(client);
  await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: 'x' });
  await storage.subjects.create({ subjectType: 'company', subjectId: companyId, name: 'Nordlys Danmark ApS', organizationId: null });
  const codeDigest = randomBytes(32).toString('base64url');
  await storage.authorizationCodes.create({
    codeDigest, clientId: client.clientId, userId, redirectUri: client.redirectUris[0]!, scope: ['users:read'], subjectType: 'company',
    subjectId: companyId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  await storage.authorizationCodes.consume(codeDigest, NOW);
  const grant: GrantRecord = {
    grantId: randomUUID(), clientId: client.clientId, userId, subjectType: 'company', subjectId: companyId, scope: ['users:read'],
    createdAt: NOW, revokedAt: null, revocationReason: null,
  };
  const pair = newTokenPair(grant, NOW);
  assert.equal(await storage.grants.issueForCode(codeDigest, grant, pair), 'issued');
  return { grant, refreshDigest: pair[1].tokenDigest };
}

function newTokenPair(grant: GrantRecord, now: number): [TokenRecord, TokenRecord] {
  const base = { grantId: grant.grantId, clientId: grant.clientId, scope: grant.scope, issuedAt: now, rotatedAt: null, revokedAt: null };
  return [
    { ...base, tokenDigest: randomBytes(32).toString('base64url'), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
    { ...base, tokenDigest: randomBytes(32).toString('base64url'), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 5_184_000 },
  ];
}

/**
 * Runs `script` (an ES module body that sees `createSqliteStorage`, `path` and `env`, and with `open`
 * also `storage`, already opened on `path`) in each of `processes` Node processes, releases them all at
 * once when every one is ready, and returns the last line each printed.
 */
async function inProcesses(
  processes: number,
  path: string,
  script: string,
  { env = {}, open = true }: { env?: Record<string, string>; open?: boolean } = {},
): Promise<string[]> {
  const source = `
    import { createSqliteStorage } from ${JSON.stringify(SQLITE_STORAGE_URL)};
    import { createInterface } from 'node:readline';
    const lines = createInterface({ input: process.stdin });
    const go = new Promise((resolve) => lines.once('line', resolve));
    const env = process.env;
    const path = env.DATABASE_PATH;
    ${open ? 'const storage = createSqliteStorage(path);' : ''}
    console.log('ready');
    await go;
    lines.close();
    ${script}
  `;
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', source], {
      env: { PATH: process.env.PATH ?? '', DATABASE_PATH: path, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const outputs = children.map((child) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => stdout.includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before ready: ${stderr}`)));
    });
    const done = new Promise<string>((resolve, reject) =>
      child.once('exit', (code) => (code === 0 ? resolve(stdout.trim().split('\n').at(-1)!) : reject(new Error(`child exited ${code}: ${stderr}`)))),
    );
    done.catch(() => {}); // awaited below; not unhandled if a child fails before it is ready
    return { ready, done };
  });
  await Promise.all(outputs.map((output) => output.ready));
  for (const child of children) child.stdin.end('go\n');
  return Promise.all(outputs.map((output) => output.done));
}

describe('SQLite storage', () => {
  it('creates and migrates a database file on open, and reopening keeps the data without re-running migrations', async () => {
    const path = databaseFile('gatehouse'); // in a directory that does not exist yet
    const client = clientRecord();
    const first = createSqliteStorage(path);
    await first.clients.create(client);
    await first.close();

    const inspect = new DatabaseSync(path);
    const applied = inspect.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(applied.map((row) => ({ ...row })), migrations.map(({ version, name }) => ({ version, name })));
    assert.equal(inspect.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
    inspect.close();

    // Re-running migration 1 would fail on CREATE TABLE clients; reopening must just work.
    const second = createSqliteStorage(path);
    assert.deepEqual(await second.clients.find(client.clientId), client);
    await second.close();
    const again = new DatabaseSync(path);
    assert.equal(again.prepare('SELECT count(*) AS n FROM schema_migrations').get()?.n, migrations.length);
    again.close();
  });

  it('opens and migrates once when several processes open a new file at the same moment (migrations.ts: "two processes starting on the same file")', async () => {
    // Several rounds, each a new file opened by four processes at once: the race shows in most runs.
    for (let round = 0; round < 4; round++) {
      const path = databaseFile('race');
      const results = await inProcesses(4, path, `
        const storage = createSqliteStorage(path);
        await storage.close();
        console.log('opened');
      `, { open: false });
      assert.deepEqual(results, ['opened', 'opened', 'opened', 'opened'], `round ${round}`);
      const inspect = new DatabaseSync(path);
      assert.equal(inspect.prepare('SELECT count(*) AS n FROM schema_migrations').get()?.n, migrations.length);
      inspect.close();
    }
  });

  it('of two handles on one file rotating the same refresh token exactly one succeeds (SPEC decision 8, across processes)', async () => {
    const path = databaseFile('two-handles');
    const a = createSqliteStorage(path);
    const b = createSqliteStorage(path);
    try {
      const { grant, refreshDigest } = await grantWithRefreshToken(a);
      const pairA = newTokenPair(grant, NOW + 10);
      const pairB = newTokenPair(grant, NOW + 10);
      const results = await Promise.all([
        a.tokens.rotateRefreshToken(refreshDigest, NOW + 10, pairA),
        b.tokens.rotateRefreshToken(refreshDigest, NOW + 10, pairB),
      ]);
      assert.deepEqual([...results].sort(), ['not_current', 'rotated']);
      const winner = results[0] === 'rotated' ? pairA : pairB;
      const loser = results[0] === 'rotated' ? pairB : pairA;
      for (const handle of [a, b]) {
        for (const token of winner) assert.ok(await handle.tokens.findByDigest(token.tokenDigest));
        for (const token of loser) assert.equal(await handle.tokens.findByDigest(token.tokenDigest), undefined);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('of 4 processes rotating the same refresh token at once exactly one succeeds (SPEC decision 8, BEGIN IMMEDIATE)', async () => {
    const path = databaseFile('processes');
    const setup = createSqliteStorage(path);
    const { grant, refreshDigest } = await grantWithRefreshToken(setup);
    await setup.close();
    const results = await inProcesses(4, path, `
      const { randomBytes, randomUUID } = await import('node:crypto');
      const token = (kind) => ({
        tokenDigest: randomBytes(32).toString('base64url'), tokenId: randomUUID(), kind, grantId: env.GRANT_ID, clientId: env.CLIENT_ID,
        scope: ['users:read'], issuedAt: ${NOW + 10}, expiresAt: ${NOW + 1000}, rotatedAt: null, revokedAt: null,
      });
      const result = await storage.tokens.rotateRefreshToken(env.REFRESH_DIGEST, ${NOW + 10}, [token('access'), token('refresh')]);
      await storage.close();
      console.log(result);
    `, { env: { GRANT_ID: grant.grantId, CLIENT_ID: grant.clientId, REFRESH_DIGEST: refreshDigest } });
    assert.deepEqual([...results].sort(), ['not_current', 'not_current', 'not_current', 'rotated']);
    const inspect = new DatabaseSync(path);
    // The first pair (now rotated out / revoked) plus exactly one new pair.
    assert.equal(inspect.prepare('SELECT count(*) AS n FROM tokens WHERE grant_id = ?').get(grant.grantId)?.n, 4);
    inspect.close();
  });

  it('refuses to update or delete audit events (SPEC decision 19: append-only)', async () => {
    const path = databaseFile('audit');
    const storage = createSqliteStorage(path);
    await storage.audit.record({ type: 'consent.granted', at: NOW, actor: 'user:alice', details: { scope: 'users:read' } });
    await storage.close();

    const db = new DatabaseSync(path);
    try {
      assert.throws(() => db.prepare("UPDATE audit_events SET actor = 'someone else'").run(), /append-only/);
      assert.throws(() => db.prepare('DELETE FROM audit_events').run(), /append-only/);
      assert.throws(() => db.exec("INSERT INTO audit_events (event_id, type, at, actor, details) VALUES (1, 'x', 0, 'x', '{}') ON CONFLICT (event_id) DO UPDATE SET type = 'x'"), /append-only/);
      const rows = db.prepare('SELECT type, actor FROM audit_events').all();
      assert.deepEqual(rows.map((row) => ({ ...row })), [{ type: 'consent.granted', actor: 'user:alice' }]);
    } finally {
      db.close();
    }
  });

  it('refuses to overwrite an audit event with REPLACE (SPEC decision 19: append-only)', async () => {
    const path = databaseFile('audit-replace');
    const storage = createSqliteStorage(path);
    await storage.audit.record({ type: 'consent.granted', at: NOW, actor: 'user:alice' });
    await storage.close();

    const db = new DatabaseSync(path);
    try {
      const { event_id: eventId } = db.prepare('SELECT event_id FROM audit_events').get()!;
      assert.throws(
        () => db.prepare("REPLACE INTO audit_events (event_id, type, at, actor, details) VALUES (?, 'rewritten', 0, 'nobody', '{}')").run(eventId!),
        /append-only/,
      );
      assert.deepEqual({ ...db.prepare('SELECT type, actor FROM audit_events').get() }, { type: 'consent.granted', actor: 'user:alice' });
    } finally {
      db.close();
    }
  });

  it('stores no raw code, token, client secret, session or password value in any column (SPEC decision 9)', async () => {
    const path = databaseFile('at-rest');
    const storage = createSqliteStorage(path);
    const codec = createOpaqueTokenCodec(randomBytes(32));
    const raw: string[] = [];
    const digests: string[] = [];
    const mint = (kind: 'gac' | 'gat' | 'grt') => {
      const { value, digest } = codec.mint(kind);
      raw.push(value, value.slice(0, value.indexOf('.'))); // the whole value and its random part
      digests.push(digest);
      return { value, digest };
    };

    const clientSecret = generateClientSecret();
    const password = `correct horse ${randomUUID()}`;
    const sessionValue = randomBytes(32).toString('base64url');
    raw.push(clientSecret, password, sessionValue);

    const client: ClientRecord = { ...clientRecord(), secretDigest: digestClientSecret(clientSecret) };
    const userId = randomUUID();
    await storage.clients.create(client);
    await storage.users.create({ userId, email: 'alice@example.com', name: 'Alice', passwordHash: await hashPassword(password) });
    await storage.loginSessions.create({
      sessionDigest: createHash('sha256').update(sessionValue).digest('base64url'), userId, createdAt: NOW, expiresAt: NOW + 3600,
    });
    const code = mint('gac');
    await storage.authorizationCodes.create({
      codeDigest: code.digest, clientId: client.clientId, userId, redirectUri: client.redirectUris[0]!, scope: ['users:read'],
      subjectType: 'company', subjectId: randomUUID(), codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', issuedAt: NOW, expiresAt: NOW + 60,
    });
    assert.equal((await storage.authorizationCodes.consume(code.digest, NOW)).outcome, 'consumed');
    const grant: GrantRecord = {
      grantId: randomUUID(), clientId: client.clientId, userId, subjectType: 'company', subjectId: randomUUID(), scope: ['users:read'],
      createdAt: NOW, revokedAt: null, revocationReason: null,
    };
    const tokens = (now: number): TokenRecord[] => {
      const base = { grantId: grant.grantId, clientId: client.clientId, scope: ['users:read'], issuedAt: now, rotatedAt: null, revokedAt: null };
      return [
        { ...base, tokenDigest: mint('gat').digest, tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
        { ...base, tokenDigest: mint('grt').digest, tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 5_184_000 },
      ];
    };
    const first = tokens(NOW);
    assert.equal(await storage.grants.issueForCode(code.digest, grant, first), 'issued');
    assert.equal(await storage.tokens.rotateRefreshToken(first[1]!.tokenDigest, NOW + 60, tokens(NOW + 60)), 'rotated');
    await storage.audit.record({ type: 'token.issued', at: NOW, actor: `client:${client.clientId}`, clientId: client.clientId, grantId: grant.grantId, details: { access_token_id: first[0]!.tokenId } });

    const db = new DatabaseSync(path);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => String(row.name));
    assert.ok(tables.includes('tokens') && tables.includes('authorization_codes') && tables.includes('audit_events'));
    const dump = tables.map((table) => JSON.stringify(db.prepare(`SELECT * FROM "${table}"`).all())).join('\n');
    db.close();
    await storage.close();

    for (const digest of digests) assert.ok(dump.includes(digest), 'the dump holds the digests, so it would show raw values too');
    for (const value of raw) assert.ok(!dump.includes(value), `a raw value is stored: ${value.slice(0, 8)}…`);
    // And not in the file bytes either (closing the last connection checkpoints the WAL).
    const bytes = readFileSync(path).toString('latin1');
    for (const value of raw) assert.ok(!bytes.includes(value), `a raw value is in the database file: ${value.slice(0, 8)}…`);
  });
});

describe('SQLite storage: a failure at any point of a code exchange leaves the code unused and nothing written (issue 12)', () => {
  /** Each statement of exchangeCode (and its COMMIT), in the order it runs when it supersedes a previous grant. */
  const POINTS: { name: string; pattern: RegExp }[] = [
    { name: 'reading the code', pattern: /^SELECT client_id, consumed_at, replayed_at, grant_id, issued_at, active_grant_at_issue, recent_grants_at_issue FROM authorization_codes/ },
    { name: 'the SPEC decision 6 check (and the supersede\'s read)', pattern: /^SELECT grant_id, created_at, revoked_at FROM grants WHERE client_id/ },
    { name: 'superseding the previous grant', pattern: /^UPDATE grants SET revoked_at/ },
    { name: 'revoking the previous grant\'s tokens', pattern: /^UPDATE tokens SET revoked_at = \? WHERE grant_id/ },
    { name: 'inserting the grant', pattern: /^INSERT INTO grants/ },
    { name: 'inserting the tokens', pattern: /^INSERT INTO tokens/ },
    { name: 'consuming the code and linking it to the grant', pattern: /^UPDATE authorization_codes SET consumed_at = \?, grant_id = \?/ },
    { name: 'recording the audit event', pattern: /^INSERT INTO audit_events/ },
    { name: 'COMMIT', pattern: /^COMMIT$/ },
  ];

  for (const point of POINTS) {
    it(`${point.name}: fails with StorageUnavailableError, keeps the code unused and the previous grant active, writes nothing; the retry issues`, async () => {
      const storage = createSqliteStorage(databaseFile('exchange-fault'));
      try {
        const previous = await grantWithRefreshToken(storage);
        const codeDigest = randomBytes(32).toString('base64url');
        await storage.authorizationCodes.create({
          codeDigest, clientId: previous.grant.clientId, userId: previous.grant.userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'],
          subjectType: 'company', subjectId: previous.grant.subjectId, codeChallenge: null, issuedAt: NOW + 10, expiresAt: NOW + 70,
        });
        const grant: GrantRecord = { ...previous.grant, grantId: randomUUID(), createdAt: NOW + 11 };
        const pair = newTokenPair(grant, NOW + 11);
        const event = { type: 'token.issued', at: NOW + 11, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId };
        const exchange = () => storage.grants.exchangeCode(codeDigest, grant.clientId, NOW + 11, grant, pair, event);

        const fault = failSqliteStatements(point.pattern);
        try {
          await assert.rejects(exchange(), (error) => error instanceof StorageUnavailableError);
        } finally {
          fault.restore();
        }
        assert.equal(fault.failures(), 1, 'the failure happened at that point');
        assert.equal((await storage.authorizationCodes.find(codeDigest, grant.clientId))?.used, false, 'the code is still unused');
        assert.equal(await storage.grants.find(grant.grantId), undefined, 'no grant');
        for (const token of pair) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined, 'no token');
        assert.equal((await storage.grants.find(previous.grant.grantId))?.revokedAt, null, 'the previous grant is not superseded');
        assert.equal((await storage.tokens.findByDigest(previous.refreshDigest))?.token.revokedAt, null, 'nor its tokens');
        assert.equal((await storage.audit.list()).some((recorded) => recorded.grantId === grant.grantId), false, 'no audit event');

        assert.deepEqual(await exchange(), { outcome: 'issued' });
        assert.equal((await storage.grants.find(previous.grant.grantId))?.revocationReason, 'superseded');
        assert.deepEqual(await storage.grants.findActive(grant.clientId, 'company', grant.subjectId), grant);
      } finally {
        await storage.close();
      }
    });
  }
});
