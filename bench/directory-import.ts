/**
 * `npm run bench:directory-import` (`node bench/directory-import.ts [--users N]`): how long
 * `gatehouse directory import` takes for a large platform, on SQLite (issue 10 §1: 100,000 users with
 * memberships, goal under a minute on this machine).
 *
 * Generates a directory document (1 organization per 100 users, 1 company per 4 users, each user
 * administering one or two companies, every 10th also their organization), writes it to a temporary
 * file, and imports it into a fresh temporary SQLite database (WAL, `synchronous=FULL`: what the code
 * ships) through the code the CLI runs (parseImportDocument + importDirectory). Then imports it again:
 * the second run must find everything unchanged. Prints the times; deletes the files.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importDirectory, parseImportDocument, type ImportReport } from '../packages/authorization-server/src/directory/directory-import.ts';
import { createSqliteStorage } from '../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts';

const { values } = parseArgs({ options: { users: { type: 'string', default: '100000' } } });
const userCount = Number(values.users);
if (!Number.isInteger(userCount) || userCount < 1) throw new Error('--users must be a positive whole number');

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-bench-directory-'));
try {
  const organizations = Array.from({ length: Math.max(1, Math.ceil(userCount / 100)) }, (_, i) => ({ id: randomUUID(), name: `Organization ${i}` }));
  const companies = Array.from({ length: Math.max(1, Math.ceil(userCount / 4)) }, (_, i) => ({
    id: randomUUID(), name: `Company ${i}`, organization_id: organizations[i % organizations.length]!.id,
  }));
  const users = Array.from({ length: userCount }, (_, i) => {
    const company = companies[i % companies.length]!;
    const administers = [{ type: 'company', id: company.id }];
    if (i % 3 === 0) administers.push({ type: 'company', id: companies[(i * 7 + 1) % companies.length]!.id });
    if (i % 10 === 0) administers.push({ type: 'organization', id: company.organization_id });
    return { id: randomUUID(), email: `user${i}@example.com`, name: `User ${i}`, locale: i % 2 ? 'da-DK' : null, administers: [...new Map(administers.map((m) => [`${m.type}:${m.id}`, m])).values()] };
  });
  const file = join(directory, 'directory.json');
  writeFileSync(file, JSON.stringify({ organizations, companies, users }));
  const memberships = users.reduce((sum, user) => sum + user.administers.length, 0);
  console.log(`document: ${organizations.length} organizations, ${companies.length} companies, ${users.length} users, ${memberships} memberships (${(statSync(file).size / 1e6).toFixed(1)} MB)`);

  const storage = createSqliteStorage(join(directory, 'gatehouse.sqlite'));
  const context = { storage, environment: 'production' as const, now: Math.floor(Date.now() / 1000), actor: 'admin:bench' };
  const run = async (label: string): Promise<ImportReport> => {
    const started = performance.now();
    const report = await importDirectory(context, parseImportDocument(readFileSync(file, 'utf8')), {});
    const seconds = (performance.now() - started) / 1000;
    const records = report.created + report.updated + report.unchanged + report.refused.length;
    console.log(`${label}: ${seconds.toFixed(1)} s (${Math.round(records / seconds)} records/s): created ${report.created}, updated ${report.updated}, unchanged ${report.unchanged}, refused ${report.refused.length}`);
    return report;
  };
  const first = await run('first import');
  const second = await run('second import');
  await storage.close();
  if (first.refused.length > 0 || second.created + second.updated > 0) {
    console.error('unexpected: the first run refused records, or the second changed something');
    process.exitCode = 1;
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
