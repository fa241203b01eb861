/**
 * `gatehouse backup` and `gatehouse restore` on SQLite (issue 14): a backup taken while a server process
 * rotates refresh tokens, restored into a new file, serves a restarted server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { generateTokenKey } from '../configuration.ts';
import { authorize, confidentialAuth, freePort, obtainTokens, postForm, seed } from '../testing/harness.ts';
import { startInstanceProcess, type InstanceProcess } from '../testing/instance-process.ts';

const CLI = fileURLToPath(new URL('../cli/gatehouse.ts', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-backup-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/** Runs the CLI without blocking the event loop (the server under load is another process, the load is here). */
function gatehouse(args: string[], database: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('GATEHOUSE_') && !name.startsWith('NODE_TEST') && name !== 'DATABASE_URL') env[name] = value;
  }
  const child = spawn(process.execPath, ['--no-warnings', CLI, ...args], { env: { ...env, GATEHOUSE_DATABASE: database, GATEHOUSE_ENV: 'development' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

describe('gatehouse backup and restore (SQLite, issue 14)', () => {
  it('backs up online while refresh tokens rotate, and a server restarted on the restored file serves from it', async () => {
    const database = join(directory, 'live.sqlite');
    const restored = join(directory, 'restored.sqlite');
    const backup = join(directory, 'backup.sqlite');
    const tokenKey = generateTokenKey();
    const start = async (file: string) => {
      const port = await freePort();
      return startInstanceProcess({
        GATEHOUSE_DATABASE: file, GATEHOUSE_ENV: 'development', GATEHOUSE_TOKEN_KEY: tokenKey, PORT: String(port), HOST: '127.0.0.1',
        GATEHOUSE_ISSUER: `http://127.0.0.1:${port}`, GATEHOUSE_LOG: 'off', GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0',
      });
    };
    let live: InstanceProcess | undefined = await start(database);
    let second: InstanceProcess | undefined;
    try {
      const [first, other] = seed.companies.map((company) => `urn:gatehouse:company:${company.id}`);
      // A connection made before the backup and left alone, and one under load during it.
      const { tokens: kept } = await obtainTokens(live, { subject: first });
      const { tokens: loaded } = await obtainTokens(live, { subject: other });
      let current = loaded.refresh_token;
      let rotations = 0;
      let loading = true;
      const load = (async () => {
        while (loading) {
          const rotated = await postForm(`${live!.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: current }, { authorization: confidentialAuth() });
          assert.equal(rotated.status, 200, rotated.text);
          current = rotated.json.refresh_token;
          rotations += 1;
        }
      })();
      while (rotations < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      const taken = await gatehouse(['backup', backup, '--json'], database);
      const rotationsDuringBackup = rotations;
      while (rotations < rotationsDuringBackup + 3) await new Promise((resolve) => setTimeout(resolve, 5));
      loading = false;
      await load;
      assert.equal(taken.status, 0, taken.stderr);
      const summary = JSON.parse(taken.stdout);
      assert.ok(summary.bytes > 0 && summary.schema_version >= 1);
      // A backup never overwrites.
      assert.notEqual((await gatehouse(['backup', backup], database)).status, 0);
      assert.equal((await live.stop()), 0);
      live = undefined;

      // Restore into a new file (an existing one needs --force), and serve from it.
      const refused = await gatehouse(['restore', backup], database);
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /exists; stop every server using it, then restore with --force/);
      const put = await gatehouse(['restore', backup, '--json'], restored);
      assert.equal(put.status, 0, put.stderr);
      assert.ok(existsSync(restored));
      second = await start(restored);
      const refreshed = await postForm(`${second.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: kept.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(refreshed.status, 200, refreshed.text);
      const { redirect } = await authorize(second, { subject: other, extra: { prompt: 'consent' } });
      assert.ok(redirect.searchParams.get('code'), 'a new flow runs on the restored database');
    } finally {
      await live?.stop();
      await second?.stop();
    }
  });

  it('refuses to back up or restore a PostgreSQL deployment and names pg_dump', async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith('GATEHOUSE_') && !name.startsWith('NODE_TEST') && name !== 'DATABASE_URL') env[name] = value;
    }
    const child = spawn(process.execPath, ['--no-warnings', CLI, 'backup', join(directory, 'pg.sqlite')], { env: { ...env, DATABASE_URL: 'postgres://127.0.0.1:1/none' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const status = await new Promise((resolve) => child.once('close', resolve));
    assert.equal(status, 2);
    assert.match(stderr, /pg_dump/);
  });
});
