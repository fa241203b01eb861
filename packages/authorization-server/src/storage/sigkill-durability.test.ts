/**
 * Issue 12, "durability is not traded away": the real server (testing/instance.ts, configured from the
 * environment as a deployment is) under a sustained refresh load from 50 grants and 10 concurrent clients
 * is killed with SIGKILL in the middle of it, restarted on the same database, and then:
 * - every refresh token any client received in a 200 response is stored (a 200 is sent only after its
 *   rotation committed: SQLite WAL, flushed before the answer (wal-sync.ts); PostgreSQL commit);
 * - no grant is half-written: each has exactly one current refresh token, as many access tokens as refresh
 *   tokens (pairs), one `token.issued` and one `refresh_token.rotated` audit event per rotation, and its
 *   grace record (if any) names a rotated-out refresh token of that grant;
 * - the last refresh token each client received works exactly once: it rotates (or, when the request in
 *   flight at the kill had rotated it without the client seeing the answer, the reuse grace window of SPEC
 *   decision 8 answers it with that same successor pair); the successor works; then the token is plain
 *   reuse (invalid_grant), which revokes the grant. No grant was revoked before that.
 *
 * SIGKILL ends the process, not the machine: the operating system still writes what the process handed it,
 * so this proves the server commits before it answers and recovers from a crash, not fsync against power loss.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { generateTokenKey } from '../configuration.ts';
import { confidentialAuth, freePort, pkcePair, postForm, seed } from '../testing/harness.ts';
import { startInstanceProcess, type InstanceProcess } from '../testing/instance-process.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { createOpaqueTokenCodec } from '../tokens/opaque-token.ts';
import { createPostgresStorage } from './postgres/postgres-storage.ts';
import { createSqliteStorage } from './sqlite/sqlite-storage.ts';
import type { Storage } from './storage.ts';

const GRANTS = 50;
const CLIENTS = 10;
/** Rotations answered with 200 before the kill. */
const ROTATIONS_BEFORE_KILL = 400;

interface Backend {
  name: string;
  skip: string | false;
  /** The database settings of the server process. */
  env(): Record<string, string>;
  /** A storage of the test's own on the same database (to store codes). */
  open(): Promise<Storage>;
  /** Rows of a read-only query on the database, `?` placeholders in order. */
  rows(sql: string, params?: (string | number)[]): Promise<Record<string, unknown>[]>;
  dispose(): Promise<void>;
}

function sqliteBackend(): Backend {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-sigkill-'));
  const path = join(directory, 'gatehouse.sqlite');
  return {
    name: 'SQLite (file, WAL, flushed before each answer)', skip: false,
    env: () => ({ GATEHOUSE_DATABASE: path }),
    open: async () => createSqliteStorage(path),
    async rows(sql, params = []) {
      const db = new DatabaseSync(path);
      try {
        return db.prepare(sql).all(...params) as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    async dispose() {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

function postgresBackend(skip: string | false): Backend {
  const schema = newTestSchema();
  return {
    name: 'PostgreSQL', skip,
    env: () => ({ DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema, GATEHOUSE_DATABASE_POOL_SIZE: '8' }),
    open: () => createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 2 }),
    async rows(sql, params = []) {
      let index = 0;
      return (await queryTestSchema(schema, sql.replaceAll('?', () => `$${++index}`), params)).rows;
    },
    dispose: () => dropTestSchema(schema),
  };
}

/** One grant as its client sees it: the refresh tokens it received in 200 answers, the latest last. */
interface Connection {
  subjectId: string;
  received: string[];
}

const backends = [sqliteBackend(), postgresBackend(await postgresSkipReason())];

for (const backend of backends) {
  describe(`SIGKILL in the middle of a sustained refresh load, then a restart on the same database: ${backend.name} (issue 12)`, { skip: backend.skip }, () => {
    const tokenKey = generateTokenKey();
    const codec = createOpaqueTokenCodec(Buffer.from(tokenKey, 'base64url'));
    let server: InstanceProcess | undefined;
    after(async () => {
      await server?.stop();
      await backend.dispose();
    });

    const start = async () => startInstanceProcess({
      ...backend.env(), GATEHOUSE_TOKEN_KEY: tokenKey, GATEHOUSE_ENV: 'development', GATEHOUSE_LOG: 'off', HOST: '127.0.0.1', PORT: String(await freePort()),
      GATEHOUSE_ISSUER: 'http://127.0.0.1:9', GATEHOUSE_OAUTH_RATE_LIMIT: 'off', GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0',
      // SPEC decision 8's window, at its maximum so a slow machine cannot make the check below outlast it.
      GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '120',
    });
    const refresh = (refreshToken: string) =>
      postForm(`${server!.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });

    it('keeps every refresh token a client received, leaves no grant half-written, and the latest token of each works exactly once', async (t) => {
      server = await start(); // development: seeds the demo client and user on first start

      // 50 grants: one code per company (distinct subjects, so no grant supersedes another), exchanged over HTTP.
      const storage = await backend.open();
      const codes: { code: string; codeVerifier: string; subjectId: string }[] = [];
      const now = Math.floor(Date.now() / 1000);
      try {
        for (let i = 0; i < GRANTS; i++) {
          const subjectId = randomUUID();
          await storage.subjects.create({ subjectType: 'company', subjectId, name: `Durability ${i} ApS`, organizationId: null });
          await storage.subjects.addAdministrator(seed.users.alice.id, 'company', subjectId);
          const { value, digest } = codec.mint('gac');
          const { codeVerifier, codeChallenge } = pkcePair();
          await storage.authorizationCodes.create({
            codeDigest: digest, clientId: seed.confidentialClient.id, userId: seed.users.alice.id, redirectUri: seed.confidentialClient.redirectUri,
            scope: ['users:read'], subjectType: 'company', subjectId, codeChallenge, issuedAt: now, expiresAt: now + 600,
          });
          codes.push({ code: value, codeVerifier, subjectId });
        }
      } finally {
        await storage.close();
      }
      const connections: Connection[] = await Promise.all(codes.map(async ({ code, codeVerifier, subjectId }) => {
        const exchanged = await postForm(`${server!.url}/oauth/token`, {
          grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
        }, { authorization: confidentialAuth() });
        assert.equal(exchanged.status, 200, exchanged.text);
        return { subjectId, received: [exchanged.json.refresh_token as string] };
      }));

      // The load: 10 clients, each refreshing its 5 grants in turn, until the server is killed under them.
      let rotations = 0;
      let killed: Promise<NodeJS.Signals | null> | undefined;
      let failedInFlight = 0;
      const client = async (mine: Connection[]) => {
        for (;;) {
          for (const connection of mine) {
            let answer: Awaited<ReturnType<typeof refresh>>;
            try {
              answer = await refresh(connection.received.at(-1)!);
            } catch (error) {
              if (killed) {
                failedInFlight += 1;
                return; // the server is gone: this request's outcome is unknown to the client
              }
              throw error;
            }
            assert.equal(answer.status, 200, answer.text);
            connection.received.push(answer.json.refresh_token as string);
            rotations += 1;
            if (rotations === ROTATIONS_BEFORE_KILL) killed = server!.kill();
          }
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(connections.filter((_, index) => index % CLIENTS === i))));
      assert.equal(await killed, 'SIGKILL');

      server = await start();
      const subjects = connections.map((connection) => connection.subjectId);
      const inSubjects = `subject_id IN (${subjects.map(() => '?').join(', ')})`;

      // Durable: every refresh token received in a 200 answer is stored.
      const stored = new Set((await backend.rows(`SELECT t.token_digest FROM tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.kind = 'refresh' AND g.${inSubjects}`, subjects))
        .map((row) => String(row.token_digest)));
      const received = connections.flatMap((connection) => connection.received);
      const missing = received.filter((token) => !stored.has(codec.digestOf(token, 'grt')!));
      assert.deepEqual(missing.length, 0, `${missing.length} of ${received.length} refresh tokens answered with 200 are not stored`);

      // Not half-written: per grant, one current refresh token; pairs; one audit event per issue and per rotation.
      const grants = await backend.rows(`SELECT grant_id, revoked_at FROM grants WHERE ${inSubjects}`, subjects);
      assert.equal(grants.length, GRANTS);
      for (const grant of grants) {
        const grantId = String(grant.grant_id);
        assert.equal(grant.revoked_at, null, 'no grant revoked by the crash or the restart');
        const [counts] = await backend.rows(
          `SELECT
             (SELECT count(*) FROM tokens WHERE grant_id = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL) AS current_refresh,
             (SELECT count(*) FROM tokens WHERE grant_id = ? AND kind = 'refresh') AS refresh,
             (SELECT count(*) FROM tokens WHERE grant_id = ? AND kind = 'access') AS access,
             (SELECT count(*) FROM audit_events WHERE grant_id = ? AND type = 'token.issued') AS issued,
             (SELECT count(*) FROM audit_events WHERE grant_id = ? AND type = 'refresh_token.rotated') AS rotated,
             (SELECT count(*) FROM refresh_token_grace r WHERE r.grant_id = ? AND NOT EXISTS (
                SELECT 1 FROM tokens t WHERE t.token_digest = r.previous_digest AND t.grant_id = r.grant_id AND t.rotated_at IS NOT NULL)) AS orphaned_grace`,
          [grantId, grantId, grantId, grantId, grantId, grantId],
        );
        const n = Object.fromEntries(Object.entries(counts!).map(([name, value]) => [name, Number(value)]));
        assert.deepEqual(
          { currentRefresh: n.current_refresh, access: n.access, issued: n.issued, rotated: n.rotated, orphanedGrace: n.orphaned_grace },
          { currentRefresh: 1, access: n.refresh, issued: 1, rotated: n.refresh! - 1, orphanedGrace: 0 },
          `grant ${grantId}`,
        );
      }

      // Exactly once: the latest token each client received rotates (or is answered from the grace window
      // with the successor its lost answer carried), that successor rotates too, and no grant is revoked.
      const successors = await Promise.all(connections.map(async (connection) => {
        const latest = connection.received.at(-1)!;
        const first = await refresh(latest);
        assert.equal(first.status, 200, first.text);
        const second = await refresh(first.json.refresh_token as string);
        assert.equal(second.status, 200, second.text);
        return { latest, successor: second.json.refresh_token as string };
      }));
      assert.equal((await backend.rows(`SELECT grant_id FROM grants WHERE ${inSubjects} AND revoked_at IS NOT NULL`, subjects)).length, 0);
      const graceAnswers = (await backend.rows(`SELECT count(*) AS n FROM audit_events WHERE type = 'refresh_token.reuse_within_grace'`))[0]!.n;
      // ...and once only: presented again after its successor was used, it is reuse, which revokes the grant (SPEC decision 8).
      for (const { latest, successor } of successors) {
        const again = await refresh(latest);
        assert.equal(again.status, 400, again.text);
        assert.equal(again.json.error, 'invalid_grant');
        assert.equal((await refresh(successor)).json.error, 'invalid_grant', 'the reuse revoked the grant');
      }
      t.diagnostic(`${rotations} rotations answered before SIGKILL, ${failedInFlight} requests cut off by it, ${received.length} refresh tokens checked; ${graceAnswers} answered from the grace window after the restart`);
    });
  });
}
