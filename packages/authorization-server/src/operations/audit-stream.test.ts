/**
 * The audit stream (issue 14 "Audit log out"): every recorded audit event, also as a JSON line, in the order
 * recorded, written only once committed, never with a token value; on both backends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfiguration } from '../configuration.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorize, confidentialAuth, postForm, seed, startTestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { auditStreamTargetProblem, openAuditStream, parseAuditStreamSetting, streamAuditEvents } from './audit-stream.ts';
import type { AuditEvent } from '../storage/storage.ts';

const postgresSkip = await postgresSkipReason();

describe('GATEHOUSE_AUDIT_STREAM (issue 14)', () => {
  it('accepts stdout and file:/absolute/path, and refuses anything else with one message naming the value', () => {
    assert.deepEqual(loadConfiguration({ GATEHOUSE_AUDIT_STREAM: 'stdout' }).auditStream, { kind: 'stdout' });
    assert.deepEqual(loadConfiguration({ GATEHOUSE_AUDIT_STREAM: 'file:/var/log/gatehouse/audit.jsonl' }).auditStream, { kind: 'file', path: '/var/log/gatehouse/audit.jsonl' });
    assert.equal(loadConfiguration({}).auditStream, undefined);
    for (const value of ['stderr', 'file:relative.jsonl', 'file:', '/tmp/audit.jsonl']) {
      assert.deepEqual(parseAuditStreamSetting(value), { problem: `GATEHOUSE_AUDIT_STREAM must be stdout or file:/absolute/path (got ${JSON.stringify(value)})` });
      assert.throws(() => loadConfiguration({ GATEHOUSE_AUDIT_STREAM: value }), /GATEHOUSE_AUDIT_STREAM must be stdout or file:\/absolute\/path/);
    }
  });

  it('a file that cannot be appended to is refused when the stream opens (and by config check\'s probe); a failing write later never throws', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-audit-stream-'));
    try {
      const missing = { kind: 'file', path: join(directory, 'no-such-directory', 'audit.jsonl') } as const;
      assert.throws(() => openAuditStream(missing), { name: 'AuditStreamError', message: /cannot append to .*\(ENOENT\)/ });
      assert.match(auditStreamTargetProblem(missing)!, /^GATEHOUSE_AUDIT_STREAM: cannot append to .*no-such-directory\/audit\.jsonl \(ENOENT\)$/);
      assert.throws(() => openAuditStream({ kind: 'file', path: directory }), { name: 'AuditStreamError', message: /names a directory/ });
      // A named pipe with no reader would block the process at open: refused before opening.
      const pipe = join(directory, 'audit.fifo');
      execFileSync('mkfifo', [pipe]);
      assert.throws(() => openAuditStream({ kind: 'file', path: pipe }), { name: 'AuditStreamError', message: /must name a regular file/ });
      assert.match(auditStreamTargetProblem({ kind: 'file', path: pipe })!, /must name a regular file/);
      // A dangling symbolic link: its target's directory decides (the link's own directory is writable here).
      const dangling = join(directory, 'dangling.jsonl');
      symlinkSync(join(directory, 'no-such-directory', 'audit.jsonl'), dangling);
      assert.match(auditStreamTargetProblem({ kind: 'file', path: dangling })!, /cannot append to .*dangling\.jsonl \(ENOENT\)$/);
      assert.throws(() => openAuditStream({ kind: 'file', path: dangling }), { name: 'AuditStreamError', message: /\(ENOENT\)/ });
      // A chain of two links ending in a missing directory: the last target decides.
      const first = join(directory, 'first.jsonl');
      symlinkSync(dangling, first);
      assert.match(auditStreamTargetProblem({ kind: 'file', path: first })!, /cannot append to .*first\.jsonl \(ENOENT\)$/);
      const pending = join(directory, 'pending.jsonl');
      symlinkSync('created-on-open.jsonl', pending);
      assert.equal(auditStreamTargetProblem({ kind: 'file', path: pending }), undefined, 'a link to a file not yet created, in a writable directory');
      // A file whose last line was cut short (a disk that filled): the next line starts on a line of its own.
      const cut = join(directory, 'cut.jsonl');
      writeFileSync(cut, '{"type":"a"}\n{"type":"b","act');
      const resumed = openAuditStream({ kind: 'file', path: cut });
      resumed.write({ type: 'test.recorded', at: 1_800_000_000, actor: 'system' });
      await resumed.close();
      const lines = readFileSync(cut, 'utf8').split('\n');
      assert.deepEqual(lines.slice(0, 2), ['{"type":"a"}', '{"type":"b","act']);
      assert.equal(JSON.parse(lines[2]!).type, 'test.recorded');
      assert.match(auditStreamTargetProblem({ kind: 'file', path: directory })!, /names a directory/);
      assert.equal(auditStreamTargetProblem({ kind: 'file', path: join(directory, 'audit.jsonl') }), undefined, 'a new file in a writable directory');
      assert.equal(auditStreamTargetProblem({ kind: 'stdout' }), undefined);
      // A full disk: the first failed write is told once, later writes are dropped, close resolves; nothing throws.
      const failures: Error[] = [];
      const full = openAuditStream({ kind: 'file', path: '/dev/full' }, { onError: (error) => failures.push(error) });
      const event: AuditEvent = { type: 'test.recorded', at: 1_800_000_000, actor: 'system' };
      full.write(event);
      await new Promise((resolve) => setTimeout(resolve, 50));
      full.write(event);
      await full.close();
      assert.deepEqual(failures.map((error) => (error as NodeJS.ErrnoException).code), ['ENOSPC']);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

for (const backend of [
  { name: 'SQLite', skip: false as string | false, open: async (): Promise<Storage> => createSqliteStorage(':memory:') },
  { name: 'PostgreSQL', skip: postgresSkip, open: (): Promise<Storage> => createTestPostgresStorage() },
]) {
  describe(`the audit stream on ${backend.name} (issue 14)`, { skip: backend.skip }, () => {
    it('writes no line for an event that was not committed: a rotation that lost (not_current), a code issuance refused (code_replayed)', async () => {
      const storage = await backend.open();
      const written: AuditEvent[] = [];
      const streamed = streamAuditEvents(storage, { write: (event) => void written.push(event), close: async () => {} });
      try {
        const event: AuditEvent = { type: 'refresh_token.rotated', at: 1_800_000_000, actor: 'client:x', clientId: null, grantId: null };
        assert.equal(await streamed.tokens.rotateRefreshToken('unknown-digest', 1_800_000_000, [], event), 'not_current');
        assert.equal(written.length, 0);
        assert.deepEqual(await storage.audit.list(), [], 'nothing recorded either');
        await streamed.audit.record({ type: 'test.recorded', at: 1_800_000_000, actor: 'system' });
        assert.deepEqual(written.map((line) => line.type), ['test.recorded']);
      } finally {
        await storage.close();
      }
    });

    it('writes consent, token.issued, refresh_token.rotated, access_token.revoked and grant.revoked lines in order, as recorded, with no token value', async () => {
      const directory = mkdtempSync(join(tmpdir(), 'gatehouse-audit-stream-'));
      const path = join(directory, 'audit.jsonl');
      const stream = openAuditStream({ kind: 'file', path });
      const server = await startTestServer({ storage: await backend.open(), auditStream: stream });
      try {
        const seeded = (await server.storage.audit.list({ limit: 1000 })).length; // recorded by the seed, before the server
        const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
        const code = redirect.searchParams.get('code')!;
        const exchange = { grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier };
        const issued = await postForm(`${server.url}/oauth/token`, exchange, { authorization: confidentialAuth() });
        assert.equal(issued.status, 200);
        const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: issued.json.refresh_token }, { authorization: confidentialAuth() });
        assert.equal(refreshed.status, 200);
        const accessRevoked = await postForm(`${server.url}/oauth/revoke`, { token: refreshed.json.access_token }, { authorization: confidentialAuth() });
        assert.equal(accessRevoked.status, 200);
        const revoked = await postForm(`${server.url}/oauth/revoke`, { token: refreshed.json.refresh_token }, { authorization: confidentialAuth() });
        assert.equal(revoked.status, 200);
        await stream.close();

        const text = readFileSync(path, 'utf8');
        const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; at: number; actor: string; clientId: string | null; grantId: string | null; details: object });
        const types = lines.map((line) => line.type);
        const order = ['consent.granted', 'token.issued', 'refresh_token.rotated', 'access_token.revoked', 'grant.revoked'].map((type) => types.indexOf(type));
        assert.ok(order.every((index) => index >= 0), `every expected type is streamed: ${types.join(', ')}`);
        assert.deepEqual([...order].sort((a, b) => a - b), order, `in the order recorded: ${types.join(', ')}`);
        assert.equal(types.filter((type) => type === 'token.issued').length, 1);
        // The stream carries exactly what storage recorded while serving, in the same order.
        const recorded = (await server.storage.audit.list({ limit: 1000 })).reverse().slice(seeded);
        assert.deepEqual(types, recorded.map((event) => event.type));
        const grantId = lines.find((line) => line.type === 'token.issued')!.grantId;
        assert.ok(grantId);
        for (const type of ['token.issued', 'refresh_token.rotated', 'access_token.revoked', 'grant.revoked']) {
          const line = lines.find((candidate) => candidate.type === type)!;
          assert.equal(line.clientId, seed.confidentialClient.id, type);
          assert.equal(line.grantId, grantId, type);
        }
        for (const secret of [code, codeVerifier, issued.json.access_token, issued.json.refresh_token, refreshed.json.access_token, refreshed.json.refresh_token, seed.confidentialClient.secret, seed.users.alice.password]) {
          assert.ok(!text.includes(secret), 'no code, verifier, secret, password or token value in the stream');
        }
      } finally {
        await stream.close().catch(() => {});
        await server.close();
        rmSync(directory, { recursive: true, force: true });
      }
    });
  });
}
