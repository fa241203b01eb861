/**
 * Graceful shutdown of a real server process under a refresh load (issue 14), on SQLite and PostgreSQL:
 * SIGTERM while refresh tokens rotate; afterwards no request got an error answer, the process exited 0,
 * and on a restarted instance every refresh token last received in a 200 still works. (Had a rotation
 * been committed without its answer reaching the client, or answered without being committed, that
 * token would be refused.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { generateTokenKey } from '../configuration.ts';
import { authorize, confidentialAuth, freePort, seed } from '../testing/harness.ts';
import { startInstanceProcess, type InstanceProcess } from '../testing/instance-process.ts';
import { dropTestSchema, eventually, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-shutdown-'));
after(() => rmSync(directory, { recursive: true, force: true }));

interface Answer { status: number; json: any }

/** One POST on its own connection (no keep-alive), so a request is either never accepted or answered. */
function postOnce(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const outgoing = request(url, {
      method: 'POST', agent: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), connection: 'close', ...headers },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => {
        let json: any;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: response.statusCode ?? 0, json });
      }).on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

interface Chain { clientId: string; confidential: boolean; refreshToken: string; acknowledged: number }

const refreshForm = (chain: Chain) => ({ grant_type: 'refresh_token', refresh_token: chain.refreshToken, ...(chain.confidential ? {} : { client_id: chain.clientId }) });
const refreshHeaders = (chain: Chain): Record<string, string> => (chain.confidential ? { authorization: confidentialAuth() } : {});

/** Connects `client` to `company` (a grant of its own) and returns its refresh chain. */
async function connect(instance: InstanceProcess, confidential: boolean, company: string): Promise<Chain> {
  const client = confidential ? seed.confidentialClient : seed.publicClient;
  const { redirect, codeVerifier } = await authorize(instance, {
    clientId: client.id, redirectUri: client.redirectUri, subject: `urn:gatehouse:company:${company}`, extra: { prompt: 'consent' },
  });
  const exchanged = await postOnce(`${instance.url}/oauth/token`, {
    grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: codeVerifier,
    ...(confidential ? {} : { client_id: client.id }),
  }, confidential ? { authorization: confidentialAuth() } : {});
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.json));
  return { clientId: client.id, confidential, refreshToken: exchanged.json.refresh_token, acknowledged: 0 };
}

const backends = [
  { name: 'SQLite', skip: false as string | false, env: (): Record<string, string> => ({ GATEHOUSE_DATABASE: join(directory, `${newTestSchema()}.sqlite`) }), dispose: async () => {} },
  (() => {
    const schema = newTestSchema();
    return {
      name: 'PostgreSQL', skip: postgresSkip,
      env: (): Record<string, string> => ({ DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema }),
      dispose: () => dropTestSchema(schema),
    };
  })(),
];

for (const backend of backends) {
  describe(`graceful shutdown (issue 14) on ${backend.name}`, { skip: backend.skip }, () => {
    after(() => backend.dispose());

    it('SIGTERM under a refresh load: no request in flight fails, the process exits 0, and no acknowledged rotation is lost', async () => {
      const port = await freePort();
      const env = {
        ...backend.env(), GATEHOUSE_ENV: 'development', GATEHOUSE_TOKEN_KEY: generateTokenKey(), PORT: String(port), HOST: '127.0.0.1',
        GATEHOUSE_ISSUER: `http://127.0.0.1:${port}`, GATEHOUSE_LOG: 'off', GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0', GATEHOUSE_SHUTDOWN_GRACE_SECONDS: '10',
      };
      const first = await startInstanceProcess(env);
      let second: InstanceProcess | undefined;
      try {
        // Four grants: each client on each company (one active grant per client and subject, SPEC decision 11).
        const chains: Chain[] = [];
        for (const confidential of [true, false]) {
          for (const company of seed.companies) chains.push(await connect(first, confidential, company.id));
        }

        const unexpected: string[] = [];
        let refusedConnections = 0;
        let closingAnswers = 0;
        let stopped = false;
        const load = async (chain: Chain) => {
          while (!stopped) {
            let answer: Answer;
            try {
              answer = await postOnce(`${first.url}/oauth/token`, refreshForm(chain), refreshHeaders(chain));
            } catch (error) {
              // Never accepted (the listener is closed: refused), or accepted by the kernel but closed before its
              // request was read (Fastify closes connections without a request in progress: reset). Either way
              // nothing was done, which the restart below proves; a request cut in progress would instead
              // make the process exit 1 (the grace deadline) or lose its rotation.
              const code = (error as NodeJS.ErrnoException).code;
              if (code === 'ECONNREFUSED' || code === 'ECONNRESET') refusedConnections += 1;
              else unexpected.push(`error ${code}`);
              return;
            }
            if (answer.status === 200) {
              chain.refreshToken = answer.json.refresh_token;
              chain.acknowledged += 1;
            } else if (answer.status === 503) {
              closingAnswers += 1; // Fastify's answer to a request arriving while it closes: nothing was done
              return;
            } else {
              unexpected.push(`${answer.status} ${JSON.stringify(answer.json)}`);
              return;
            }
          }
        };
        const loads = chains.map(load);
        // SIGTERM once every chain has rotated a few times, with all four refreshing concurrently.
        while (chains.some((chain) => chain.acknowledged < 5) && unexpected.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        const exitCode = first.stop();
        await Promise.all(loads);
        stopped = true;
        assert.equal(await exitCode, 0, `the shutdown finished within the grace period: ${first.stderr()}`);
        assert.deepEqual(unexpected, [], 'no request got an error answer or failed in flight');
        assert.ok(refusedConnections + closingAnswers === chains.length, 'each load loop ended on a refused connection or a 503');

        // Restart on the same database: every refresh token last received in a 200 rotates once more.
        second = await startInstanceProcess(env);
        for (const chain of chains) {
          const answer = await postOnce(`${second.url}/oauth/token`, refreshForm(chain), refreshHeaders(chain));
          assert.equal(answer.status, 200, `after ${chain.acknowledged} rotations: ${JSON.stringify(answer.json)}`);
        }
      } finally {
        await first.stop();
        await second?.stop();
      }
    });
  });
}

/** Another session holding what a rotation needs (an operator's long migration, say), for the deadline test. */
interface Holder {
  hold(): Promise<void>;
  /** Whether the server's rotation is waiting for it now. */
  waiting(): Promise<boolean>;
  release(): Promise<void>;
  /** Tokens rotated or revoked: none may be, after the cut. */
  changedTokens(): Promise<number>;
  close(): Promise<void>;
}

const deadlineBackends = [
  (() => {
    const file = join(directory, `${newTestSchema()}.sqlite`);
    let holder: DatabaseSync | undefined;
    let started = 0;
    return {
      name: 'SQLite', skip: false as string | false, env: { GATEHOUSE_DATABASE: file }, dispose: async () => {},
      holder: (): Holder => ({
        async hold() {
          holder = new DatabaseSync(file);
          holder.exec('BEGIN IMMEDIATE');
          started = performance.now();
        },
        // The server retries for the write lock on a timer (group-commit.ts): give its request time to arrive.
        waiting: async () => performance.now() - started > 300,
        async release() {
          holder?.exec('ROLLBACK');
        },
        changedTokens: async () => Number(holder!.prepare('SELECT count(*) AS n FROM tokens WHERE revoked_at IS NOT NULL OR rotated_at IS NOT NULL').get()?.n),
        async close() {
          if (holder?.isTransaction) holder.exec('ROLLBACK');
          holder?.close();
        },
      }),
    };
  })(),
  (() => {
    const schema = newTestSchema();
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    return {
      name: 'PostgreSQL', skip: postgresSkip, env: { DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema }, dispose: () => dropTestSchema(schema),
      holder: (): Holder => ({
        async hold() {
          await locker.connect();
          await locker.query('BEGIN');
          await locker.query(`LOCK TABLE ${schema}.tokens IN ACCESS EXCLUSIVE MODE`);
        },
        async waiting() {
          const waiting = await locker.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
          return waiting.rows[0]!.n > 0;
        },
        async release() {
          await locker.query('COMMIT');
        },
        changedTokens: async () => (await locker.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.tokens WHERE revoked_at IS NOT NULL OR rotated_at IS NOT NULL`)).rows[0]!.n,
        async close() {
          await locker.query('ROLLBACK').catch(() => {});
          await locker.end().catch(() => {});
        },
      }),
    };
  })(),
];

for (const backend of deadlineBackends) {
  describe(`graceful shutdown (issue 14) on ${backend.name}: past the deadline`, { skip: backend.skip }, () => {
    after(() => backend.dispose());

    it('a refresh rotation waiting on a lock at the deadline is stopped, answered 503, and never commits after the cut', async () => {
      const port = await freePort();
      const env = {
        ...backend.env, GATEHOUSE_ENV: 'development', GATEHOUSE_TOKEN_KEY: generateTokenKey(),
        PORT: String(port), HOST: '127.0.0.1', GATEHOUSE_ISSUER: `http://127.0.0.1:${port}`, GATEHOUSE_LOG: 'off', GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0',
        // No reuse grace: a rotation committed behind the client's back would make its next refresh a replay (SPEC decision 8).
        GATEHOUSE_SHUTDOWN_GRACE_SECONDS: '1', GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0',
      };
      const first = await startInstanceProcess(env);
      const holder = backend.holder();
      let second: InstanceProcess | undefined;
      try {
        const chain = await connect(first, true, seed.companies[0]!.id);
        await holder.hold();
        const answer = postOnce(`${first.url}/oauth/token`, refreshForm(chain), refreshHeaders(chain)).catch((error: NodeJS.ErrnoException) => ({ status: 0, json: error.code }));
        await eventually('the rotation waits on the lock', () => holder.waiting());

        const exitCode = first.stop();
        // The process ends while the lock is still held: nothing of it waits for the statement.
        const exited = await Promise.race([exitCode, new Promise((resolve) => setTimeout(() => resolve('still running'), 6_000))]);
        assert.equal(exited, 1, `the deadline cut the request (exit 1): ${first.stderr()}`);
        const cut = await answer;
        assert.equal(cut.status, 503, `the stopped rotation is answered 503: ${JSON.stringify(cut.json)}`);
        assert.equal(cut.json?.error, 'temporarily_unavailable');

        await holder.release();
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(await holder.changedTokens(), 0, 'no token was rotated or revoked after the cut');

        // The refresh token the client holds is still the working one: it rotates (had the cut rotation
        // committed, this would be a replay: 400 invalid_grant and the whole grant revoked).
        second = await startInstanceProcess(env);
        const retried = await postOnce(`${second.url}/oauth/token`, refreshForm(chain), refreshHeaders(chain));
        assert.equal(retried.status, 200, JSON.stringify(retried.json));
      } finally {
        await holder.close();
        await first.stop();
        await second?.stop();
      }
    });
  });
}
