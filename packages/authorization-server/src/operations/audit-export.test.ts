import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { exportAuditEvents, parseSince } from './audit-export.ts';

const AT = Date.UTC(2026, 11, 1, 8, 0, 0) / 1000;
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
after(() => rmSync(directory, { recursive: true, force: true }));

async function exported(format: 'jsonl' | 'csv', since: number) {
  const storage = createSqliteStorage(':memory:');
  await storage.audit.record({ type: 'client.registered', at: AT - 60, actor: 'admin:cli', clientId: 'c-old', details: { client_name: 'Old' } });
  await storage.audit.record({ type: 'client.registered', at: AT, actor: 'admin:cli', clientId: 'c-1', details: { client_name: '=HYPERLINK("http://evil.example")' } });
  await storage.audit.record({ type: 'grant.revoked', at: AT + 5, actor: 'user:u-1', clientId: 'c-1', grantId: 'g-1', details: { reason: 'user, "disconnect"' } });
  let text = '';
  const count = await exportAuditEvents(storage, since, format, (chunk) => { text += chunk; });
  await storage.close();
  return { count, text };
}

describe('audit export (issue 14)', () => {
  it('exports the events at or after --since as JSON lines, oldest first, with ISO 8601 times', async () => {
    const { count, text } = await exported('jsonl', AT);
    assert.equal(count, 2);
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.type, line.at, line.client_id, line.grant_id]), [
      ['client.registered', '2026-12-01T08:00:00.000Z', 'c-1', null], ['grant.revoked', '2026-12-01T08:00:05.000Z', 'c-1', 'g-1'],
    ]);
    assert.deepEqual(Object.keys(lines[0]), ['event_id', 'at', 'type', 'actor', 'client_id', 'grant_id', 'details']);
  });

  it('exports CSV (RFC 4180 quoting) and neutralises cells a spreadsheet would run as formulas (CSV injection)', async () => {
    const { text } = await exported('csv', AT);
    const lines = text.split('\r\n');
    assert.equal(lines[0], 'event_id,at,type,actor,client_id,grant_id,details');
    assert.ok(lines[1]!.endsWith(`,"{""client_name"":""=HYPERLINK(\\""http://evil.example\\"")""}"`), lines[1]);
    assert.ok(lines[2]!.includes(',"{""reason"":""user, \\""disconnect\\""""}"'), lines[2]);
    // A cell whose text starts with "=" is prefixed with "'".
    const storage = createSqliteStorage(':memory:');
    await storage.audit.record({ type: 'client.updated', at: AT, actor: '=cmd|calc', details: {} });
    let csv = '';
    await exportAuditEvents(storage, AT, 'csv', (chunk) => { csv += chunk; });
    await storage.close();
    assert.match(csv.split('\r\n')[1]!, /,client\.updated,'=cmd\|calc,/);
  });

  it('refuses a --since that is not an ISO 8601 date or instant with a zone', () => {
    assert.equal(parseSince('2026-12-01T08:00:00Z'), AT);
    assert.equal(parseSince('2026-12-01T09:00:00+01:00'), AT);
    for (const bad of ['yesterday', '2026-12-01T08:00:00', '1764576000', '2026-13-01']) assert.throws(() => parseSince(bad), RangeError, bad);
  });

  it('gatehouse audit export --since … --format csv prints the events of the configured database', () => {
    const cli = fileURLToPath(new URL('../cli/gatehouse.ts', import.meta.url));
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith('GATEHOUSE_') && !name.startsWith('NODE_TEST') && name !== 'DATABASE_URL') env[name] = value;
    }
    const settings = { ...env, GATEHOUSE_DATABASE: join(directory, 'cli.sqlite'), GATEHOUSE_ENV: 'development' };
    const run = (args: string[]) => spawnSync(process.execPath, ['--no-warnings', cli, ...args], { env: settings, encoding: 'utf8', timeout: 20_000 });
    assert.equal(run(['clients', 'create', '--name', 'Acme Books', '--type', 'public', '--redirect-uri', 'http://localhost:8080/cb', '--scope', 'users:read']).status, 0);
    const exportedCsv = run(['audit', 'export', '--since', '2000-01-01', '--format', 'csv']);
    assert.equal(exportedCsv.status, 0, exportedCsv.stderr);
    assert.match(exportedCsv.stdout, /^event_id,at,type,actor,client_id,grant_id,details\r\n1,\d{4}-[^,]+Z,client\.registered,admin:cli,/);
    assert.match(exportedCsv.stderr, /exported 1 audit event/);
    assert.equal(run(['audit', 'export', '--format', 'csv']).status, 2, '--since is required');
    assert.equal(run(['audit', 'export', '--since', '2000-01-01', '--format', 'xml']).status, 2);
  });
});
