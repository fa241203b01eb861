import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { gatehouse as runGatehouse } from '../testing/cli.ts';

/** Imports of large files take longer than the other commands. */
const gatehouse = (database: string, args: string[], extraEnv: Record<string, string> = {}) => runGatehouse(database, args, extraEnv, 60_000);

// Probed before any test starts: the tests below block the event loop with spawnSync.
const postgresSkip = await postgresSkipReason();
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-directory-cli-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));


const newDatabase = () => {
  const directory = join(temporaryDirectory, randomUUID());
  mkdirSync(directory);
  return join(directory, 'gatehouse.sqlite');
};
const writeDocument = (document: unknown) => {
  const file = join(temporaryDirectory, `${randomUUID()}.json`);
  writeFileSync(file, typeof document === 'string' ? document : JSON.stringify(document));
  return file;
};
const json = (run: { status: number | null; stdout: string; stderr: string }, status = 0) => {
  assert.equal(run.status, status, run.stderr + run.stdout);
  return JSON.parse(run.stdout);
};
const rows = (database: string, sql: string, ...params: string[]) => {
  const db = new DatabaseSync(database);
  try {
    return (db.prepare(sql).all(...params) as Record<string, unknown>[]).map((row) => ({ ...row }));
  } finally {
    db.close();
  }
};

const GROUP = randomUUID();
const ACME = randomUUID();
const FJORD = randomUUID();
const ALICE = randomUUID();
const BOB = randomUUID();
const DOCUMENT = {
  organizations: [{ id: GROUP, name: 'Nordlys Group' }],
  companies: [{ id: ACME, name: 'Acme ApS', organization_id: GROUP }, { id: FJORD, name: 'Fjord AB' }],
  users: [
    { id: ALICE, email: 'alice@example.com', name: 'Alice Admin', locale: 'da-DK', administers: [{ type: 'company', id: ACME }, { type: 'organization', id: GROUP }] },
    { id: BOB, email: 'bob@example.com', name: 'Bob Bookkeeper', administers: [{ type: 'company', id: FJORD }] },
  ],
};

describe('gatehouse directory import (issue 10 §1)', () => {
  it('imports organizations, companies, users and memberships; a second run reports everything unchanged and changes no updated_at', () => {
    const database = newDatabase();
    const file = writeDocument(DOCUMENT);
    assert.deepEqual(json(gatehouse(database, ['directory', 'import', file, '--json'])), { created: 5, updated: 0, unchanged: 0, refused: [], dry_run: false });
    const before = rows(database, 'SELECT user_id, updated_at FROM users UNION ALL SELECT subject_id, updated_at FROM subjects ORDER BY 1');
    assert.deepEqual(rows(database, 'SELECT subject_type, subject_id FROM subject_administrators WHERE user_id = ? ORDER BY subject_type', ALICE),
      [{ subject_type: 'company', subject_id: ACME }, { subject_type: 'organization', subject_id: GROUP }]);
    const auditedBefore = rows(database, 'SELECT count(*) AS n FROM audit_events')[0]!.n;

    assert.deepEqual(json(gatehouse(database, ['directory', 'import', file, '--json'])), { created: 0, updated: 0, unchanged: 5, refused: [], dry_run: false });
    assert.deepEqual(rows(database, 'SELECT user_id, updated_at FROM users UNION ALL SELECT subject_id, updated_at FROM subjects ORDER BY 1'), before);
    assert.equal(rows(database, 'SELECT count(*) AS n FROM audit_events')[0]!.n, auditedBefore, 'an unchanged record is no audit event');
    const text = gatehouse(database, ['directory', 'import', file]);
    assert.equal(text.status, 0);
    assert.match(text.stdout, /created 0, updated 0, unchanged 5, refused 0/);

    // A changed name and a membership moved: that user is updated, the rest unchanged.
    const changed = structuredClone(DOCUMENT);
    changed.users[1]!.name = 'Bob B.';
    changed.users[1]!.administers = [{ type: 'company', id: ACME }];
    assert.deepEqual(json(gatehouse(database, ['directory', 'import', writeDocument(changed), '--json'])), { created: 0, updated: 1, unchanged: 4, refused: [], dry_run: false });
    assert.deepEqual(rows(database, 'SELECT subject_id FROM subject_administrators WHERE user_id = ?', BOB), [{ subject_id: ACME }]);
    const events = rows(database, "SELECT actor FROM audit_events WHERE type LIKE 'directory.%'");
    assert.ok(events.length > 0 && events.every((event) => event.actor === 'admin:cli'));
  });

  it('reports every refused record with kind, index, id and reason (bad UUIDs, bad e-mails, duplicate e-mails, unknown organizations, memberships pointing nowhere), applies the others, exits 2', () => {
    const database = newDatabase();
    const goodUser = randomUUID();
    const halfBad = randomUUID();
    const document = {
      organizations: [{ id: 'not-a-uuid', name: 'Broken Group' }],
      companies: [{ id: ACME, name: 'Acme ApS' }, { id: FJORD, name: 'Fjord AB', organization_id: randomUUID() }],
      users: [
        { id: goodUser, email: 'good@example.com', name: 'Good', administers: [{ type: 'company', id: ACME }] },
        { id: randomUUID(), email: 'GOOD@example.com', name: 'Same address' },
        { id: randomUUID(), email: 'not an address', name: 'Bad address' },
        { id: halfBad, email: 'half@example.com', name: 'Half Bad', administers: [{ type: 'company', id: ACME }, { type: 'company', id: FJORD }] },
        { email: 'noid@example.com', name: 'No id' },
      ],
    };
    const report = json(gatehouse(database, ['directory', 'import', writeDocument(document), '--json']), 2);
    assert.equal(report.created, 2);
    assert.deepEqual(report.refused.map((refusal: { kind: string; index: number; field: string }) => `${refusal.kind}#${refusal.index}:${refusal.field}`), [
      'organization#0:id', 'company#1:organization_id', 'user#1:email', 'user#2:email', 'user#3:administers', 'user#4:id',
    ]);
    for (const refusal of report.refused) assert.ok(refusal.reason.length > 0);
    assert.equal(report.refused[0].id, 'not-a-uuid');
    assert.equal(report.refused[5].id, null);
    // Nothing of a refused record was applied: not the user, not its one valid membership.
    assert.deepEqual(rows(database, 'SELECT user_id FROM users ORDER BY email'), [{ user_id: goodUser }]);
    assert.deepEqual(rows(database, 'SELECT user_id FROM subject_administrators'), [{ user_id: goodUser }]);
    assert.deepEqual(rows(database, 'SELECT subject_id FROM subjects'), [{ subject_id: ACME }]);
  });

  it('--dry-run reports what would happen and changes nothing', () => {
    const database = newDatabase();
    const run = gatehouse(database, ['directory', 'import', writeDocument(DOCUMENT), '--dry-run', '--json']);
    assert.deepEqual(json(run), { created: 5, updated: 0, unchanged: 0, refused: [], dry_run: true });
    assert.deepEqual(rows(database, 'SELECT count(*) AS n FROM users')[0], { n: 0 });
    assert.deepEqual(rows(database, 'SELECT count(*) AS n FROM subjects')[0], { n: 0 });
    assert.deepEqual(rows(database, 'SELECT count(*) AS n FROM audit_events')[0], { n: 0 });
  });

  it('prints progress lines on stderr for a large file', () => {
    const database = newDatabase();
    const users = Array.from({ length: 1200 }, (_, i) => ({ id: randomUUID(), email: `user${i}@example.com`, name: `User ${i}` }));
    const run = gatehouse(database, ['directory', 'import', writeDocument({ users }), '--json']);
    assert.equal(json(run).created, 1200);
    assert.match(run.stderr, /imported 1200 of 1200 records/);
  });

  it('refuses a file that is not a directory document (exit 2) and changes nothing', () => {
    const database = newDatabase();
    for (const content of ['{ nope', '[]', '{"people": []}', '{"users": {}}']) {
      const run = gatehouse(database, ['directory', 'import', writeDocument(content)]);
      assert.equal(run.status, 2, content);
      assert.match(run.stderr, /refused/);
    }
    const missing = gatehouse(database, ['directory', 'import', join(temporaryDirectory, 'missing.json')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^gatehouse: refused \(invalid_request\): cannot read .*missing\.json: ENOENT\n$/, 'one line, not the usage');
  });

  it('refuses every record of an id given twice in one list (the later one overwrote the earlier, and every run "updated" it again)', () => {
    const database = newDatabase();
    const twice = randomUUID();
    const document = { companies: [{ id: twice, name: 'Good Co' }, { id: FJORD, name: 'Fjord AB' }, { id: twice.toUpperCase(), name: 'Dup Co' }] };
    const report = json(gatehouse(database, ['directory', 'import', writeDocument(document), '--json']), 2);
    assert.equal(report.created, 1);
    assert.deepEqual(report.refused.map((refusal: { index: number; field: string; reason: string }) => `${refusal.index}:${refusal.field}:${refusal.reason}`), [
      '0:id:id: the same id as companies #2 of this file; none of them is applied',
      '2:id:id: the same id as companies #0 of this file; none of them is applied',
    ]);
    assert.deepEqual(rows(database, 'SELECT subject_id FROM subjects'), [{ subject_id: FJORD }]);
    const again = json(gatehouse(database, ['directory', 'import', writeDocument(document), '--json']), 2);
    assert.equal(again.updated, 0, 'a second run changes nothing');
  });

  it('refuses a file that is not UTF-8 (Latin-1, UTF-16) naming the encoding, and reads one with a byte order mark', () => {
    const database = newDatabase();
    const id = randomUUID();
    const latin1 = join(temporaryDirectory, `${randomUUID()}.json`);
    writeFileSync(latin1, Buffer.concat([Buffer.from(`{"companies":[\n{"id":"${id}","name":"Malm`), Buffer.from([0xf6]), Buffer.from(' AB"}]}')]));
    const refused = gatehouse(database, ['directory', 'import', latin1]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /not UTF-8 text \(line 2 is not; Latin-1 or Windows-1252\?\); save it as UTF-8/);
    const utf16 = join(temporaryDirectory, `${randomUUID()}.json`);
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify({ companies: [] }), 'utf16le')]));
    assert.match(gatehouse(database, ['directory', 'import', utf16]).stderr, /the file is UTF-16; save it as UTF-8/);
    assert.deepEqual(rows(database, 'SELECT count(*) AS n FROM subjects')[0], { n: 0 }, 'nothing stored');
    const withMark = join(temporaryDirectory, `${randomUUID()}.json`);
    writeFileSync(withMark, `\uFEFF${JSON.stringify({ companies: [{ id, name: 'Malmö AB' }] })}`);
    assert.equal(json(gatehouse(database, ['directory', 'import', withMark, '--json'])).created, 1);
    assert.deepEqual(rows(database, 'SELECT name FROM subjects'), [{ name: 'Malmö AB' }]);
  });

  it("keeps a company's organization and a user's locale that a later file leaves out; null clears them", () => {
    const database = newDatabase();
    json(gatehouse(database, ['directory', 'import', writeDocument(DOCUMENT), '--json']));
    const leftOut = {
      companies: [{ id: ACME, name: 'Acme ApS' }],
      users: [{ id: ALICE, email: 'alice@example.com', name: 'Alice Admin' }],
    };
    assert.deepEqual(json(gatehouse(database, ['directory', 'import', writeDocument(leftOut), '--json'])), { created: 0, updated: 0, unchanged: 2, refused: [], dry_run: false });
    assert.deepEqual(rows(database, 'SELECT organization_id FROM subjects WHERE subject_id = ?', ACME), [{ organization_id: GROUP }]);
    assert.deepEqual(rows(database, 'SELECT locale FROM users WHERE user_id = ?', ALICE), [{ locale: 'da-DK' }]);
    const cleared = {
      companies: [{ id: ACME, name: 'Acme ApS', organization_id: null }],
      users: [{ id: ALICE, email: 'alice@example.com', name: 'Alice Admin', locale: null }],
    };
    assert.deepEqual(json(gatehouse(database, ['directory', 'import', writeDocument(cleared), '--json'])).updated, 2);
    assert.deepEqual(rows(database, 'SELECT organization_id FROM subjects WHERE subject_id = ?', ACME), [{ organization_id: null }]);
    assert.deepEqual(rows(database, 'SELECT locale FROM users WHERE user_id = ?', ALICE), [{ locale: null }]);
  });
});

describe('gatehouse organizations|companies|users|resource-servers|developers', () => {
  it('users create|list|show|update|delete and grant-admin|revoke-admin, with --json; refusals exit 2', () => {
    const database = newDatabase();
    const organization = json(gatehouse(database, ['organizations', 'create', '--name', 'Nordlys Group', '--json']));
    const company = json(gatehouse(database, ['companies', 'create', '--name', 'Acme ApS', '--organization', organization.id, '--json']));
    assert.equal(company.organization_id, organization.id);
    const user = json(gatehouse(database, ['users', 'create', '--email', 'carla@example.com', '--name', 'Carla', '--locale', 'da-DK', '--json']));
    assert.match(user.id, /^[0-9a-f-]{36}$/);
    assert.equal(user.locale, 'da-DK');
    const duplicate = gatehouse(database, ['users', 'create', '--email', 'CARLA@example.com', '--name', 'Other']);
    assert.equal(duplicate.status, 2);
    assert.match(duplicate.stderr, /refused \(conflict, email\)/);
    const duplicateJson = gatehouse(database, ['users', 'create', '--email', 'CARLA@example.com', '--name', 'Other', '--json']);
    assert.equal(duplicateJson.status, 2);
    assert.deepEqual(json(duplicateJson, 2), { error: 'conflict', error_description: 'another user has this e-mail address', field: 'email' }, 'with --json the refusal is on stdout too');

    assert.equal(json(gatehouse(database, ['users', 'grant-admin', user.id, '--company', company.id, '--json'])).administers, true);
    assert.deepEqual(json(gatehouse(database, ['users', 'show', user.id, '--json'])).administers, [{ type: 'company', id: company.id }]);
    assert.deepEqual(json(gatehouse(database, ['users', 'list', '--email', 'Carla@Example.com', '--json'])).data.map((entry: { id: string }) => entry.id), [user.id]);
    assert.equal(json(gatehouse(database, ['users', 'update', user.id, '--name', 'Carla Controller', '--locale', '', '--json'])).locale, null);
    assert.equal(json(gatehouse(database, ['users', 'revoke-admin', user.id, '--company', company.id, '--json'])).administers, false);
    assert.equal(gatehouse(database, ['users', 'revoke-admin', user.id, '--company', company.id]).status, 2);

    const refused = gatehouse(database, ['organizations', 'delete', organization.id]);
    assert.equal(refused.status, 2, 'an organization with companies is not deleted');
    assert.equal(json(gatehouse(database, ['companies', 'update', company.id, '--organization', '', '--json'])).organization_id, null);
    assert.equal(json(gatehouse(database, ['organizations', 'delete', organization.id, '--json'])).deleted, true);
    assert.equal(json(gatehouse(database, ['companies', 'delete', company.id, '--json'])).grants_revoked, 0);
    assert.equal(json(gatehouse(database, ['users', 'delete', user.id, '--json'])).deleted, true);
    assert.equal(gatehouse(database, ['users', 'show', user.id]).status, 2);
  });

  it('lists a page at a time with --limit and --cursor', () => {
    const database = newDatabase();
    const ids = Array.from({ length: 3 }, (_, i) => json(gatehouse(database, ['organizations', 'create', '--name', `Group ${i}`, '--json'])).id).sort();
    const first = json(gatehouse(database, ['organizations', 'list', '--limit', '2', '--json']));
    const second = json(gatehouse(database, ['organizations', 'list', '--limit', '2', '--cursor', first.next_cursor, '--json']));
    assert.deepEqual([...first.data, ...second.data].map((entry: { id: string }) => entry.id), ids);
    assert.equal(second.next_cursor, null);
    assert.match(gatehouse(database, ['organizations', 'list', '--limit', '2']).stdout, /More: --cursor /);
  });

  it('resource-servers create --audience --json prints the credentials once (secret stored as SHA-256); list never shows it; delete', () => {
    const database = newDatabase();
    const created = json(gatehouse(database, ['resource-servers', 'create', '--audience', 'https://api.example.com', '--name', 'Platform API', '--json']));
    assert.match(created.client_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(created.audience, 'https://api.example.com');
    const [stored] = rows(database, 'SELECT kind, secret_digest FROM clients WHERE client_id = ?', created.client_id);
    assert.deepEqual(stored, { kind: 'resource_server', secret_digest: createHash('sha256').update(created.client_secret).digest('base64url') });
    const listed = gatehouse(database, ['resource-servers', 'list', '--json']);
    assert.deepEqual(json(listed).map((entry: { client_id: string }) => entry.client_id), [created.client_id]);
    assert.ok(!listed.stdout.includes(created.client_secret));
    assert.equal(gatehouse(database, ['resource-servers', 'create', '--audience', 'http://api.example.com']).status, 2);
    assert.equal(json(gatehouse(database, ['resource-servers', 'delete', created.client_id, '--json'])).status, 'deleted');
    assert.deepEqual(json(gatehouse(database, ['resource-servers', 'list', '--json'])), []);
  });

  it('resource-servers create --scopes registers another API with its scope family (RFC 8707); list shows it; bad scopes exit 2', () => {
    const database = newDatabase();
    const created = json(gatehouse(database, ['resource-servers', 'create', '--audience', 'https://export.api.example', '--scopes', 'export-jobs:read export-items:read', '--json']));
    assert.deepEqual(created.scopes, ['export-jobs:read', 'export-items:read']);
    assert.deepEqual(rows(database, 'SELECT resource, scopes FROM resources'), [{ resource: 'https://export.api.example', scopes: 'export-jobs:read export-items:read' }]);
    const listed = gatehouse(database, ['resource-servers', 'list']);
    assert.match(listed.stdout, /https:\/\/export\.api\.example .*\[export-jobs:read export-items:read\]/);
    assert.equal(gatehouse(database, ['resource-servers', 'create', '--audience', 'https://other.api.example', '--scopes', 'export-jobs:read']).status, 2, 'a scope another API claims');
    assert.equal(gatehouse(database, ['resource-servers', 'create', '--audience', 'https://other.api.example', '--scopes', 'payroll:read']).status, 2, 'not in the catalogue');
  });

  it('developers add|remove USER makes a directory user a partner developer and back', () => {
    const database = newDatabase();
    const user = json(gatehouse(database, ['users', 'create', '--email', 'dev@partner.example', '--name', 'Dana', '--json']));
    assert.equal(json(gatehouse(database, ['developers', 'add', user.id, '--json'])).developer, true);
    assert.deepEqual(rows(database, 'SELECT user_id FROM partner_developers'), [{ user_id: user.id }]);
    assert.equal(json(gatehouse(database, ['developers', 'remove', user.id, '--json'])).developer, false);
    assert.deepEqual(rows(database, 'SELECT user_id FROM partner_developers'), []);
    assert.equal(gatehouse(database, ['developers', 'add', randomUUID()]).status, 2);
  });

  it('usage errors exit 2 with the usage, before touching the database', () => {
    const database = newDatabase();
    for (const args of [
      ['users'], ['users', 'create', '--name', 'No Email'], ['organizations', 'create'], ['users', 'grant-admin', randomUUID()],
      ['users', 'grant-admin', randomUUID(), '--company', randomUUID(), '--organization', randomUUID()], ['companies', 'create', '--name', 'X', '--email', 'x@example.com'],
      ['organizations', 'create', '--name', 'X', '--organization', randomUUID()], ['directory', 'export'], ['directory', 'import'], ['users', 'list', '--bogus'],
      ['resource-servers', 'create'], ['developers', 'promote', randomUUID()],
    ]) {
      const run = gatehouse(database, args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /Usage:/, args.join(' '));
    }
    assert.equal(existsSync(database), false, 'no database was created');
  });
});

describe('gatehouse directory import on PostgreSQL (DATABASE_URL)', { skip: postgresSkip }, () => {
  it('imports, and a second run reports everything unchanged', async () => {
    const schema = newTestSchema();
    const env = { DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema };
    try {
      const file = writeDocument(DOCUMENT);
      assert.equal(json(gatehouse(newDatabase(), ['directory', 'import', file, '--json'], env)).created, 5);
      assert.equal(json(gatehouse(newDatabase(), ['directory', 'import', file, '--json'], env)).unchanged, 5);
      assert.equal((await queryTestSchema(schema, 'SELECT count(*)::int AS n FROM subject_administrators')).rows[0]!.n, 3);
    } finally {
      await dropTestSchema(schema);
    }
  });
});

describe('gatehouse users invite (issue 10 §3)', () => {
  it('prints a one-time set-password link valid 72 hours, stores only its digest, and refuses an unknown user with exit code 2', () => {
    const database = newDatabase();
    const created = json(gatehouse(database, ['users', 'create', '--email', 'ingrid@example.com', '--name', 'Ingrid Invitee', '--json']));
    const before = Date.now();
    const invitation = json(gatehouse(database, ['users', 'invite', created.id.toUpperCase(), '--json'], { GATEHOUSE_ISSUER: 'http://localhost:4000' }));
    const url = new URL(invitation.url);
    assert.equal(`${url.origin}${url.pathname}`, 'http://localhost:4000/account/set-password');
    const token = url.searchParams.get('token')!;
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const hoursAhead = (Date.parse(invitation.expires_at) - before) / 3_600_000;
    assert.ok(hoursAhead > 71.9 && hoursAhead <= 72.1, `expires in 72 hours (${hoursAhead})`);
    const stored = rows(database, 'SELECT token_digest, user_id, purpose, used_at FROM password_tokens');
    assert.equal(stored.length, 1);
    assert.deepEqual({ ...stored[0], token_digest: undefined }, { token_digest: undefined, user_id: created.id, purpose: 'invitation', used_at: null });
    assert.notEqual(stored[0]!.token_digest, token, 'only a digest is stored');
    assert.equal(rows(database, "SELECT count(*) AS n FROM audit_events WHERE type = 'user.invited' AND actor = 'admin:cli'")[0]!.n, 1);

    const text = gatehouse(database, ['users', 'invite', created.id]);
    assert.equal(text.status, 0);
    assert.match(text.stdout, /single use, expires .*\nhttp:\/\/localhost:3000\/account\/set-password\?token=/);
    const unknown = gatehouse(database, ['users', 'invite', randomUUID()]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /not_found/);
  });
});
