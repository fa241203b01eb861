/**
 * A narrowing of a client's scopes (storage.ts clients.update with a ScopeNarrowing, stores/client-scopes.ts) holds
 * the client's locks while it rewrites what the client was granted: it costs a few set-based statements, however many
 * grants, tokens and codes it narrows, not one per row (counted on SQLite; the same text runs on PostgreSQL).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSqliteStorage } from './sqlite-storage.ts';
import { recordSqliteStatements } from '../../testing/sqlite-statements.ts';
import { codeRecord, createCompany, fixture, issueGrant, NOW } from '../contract/fixtures.ts';

describe('SQLite: the statements of a narrowing of a client\'s scopes', () => {
  it('narrows six grants, their tokens and three codes with one UPDATE of grants, two of tokens and two of codes', async () => {
    const storage = createSqliteStorage(':memory:');
    try {
      const f = await fixture(storage);
      for (let i = 0; i < 6; i++) {
        const company = await createCompany(storage);
        await storage.subjects.addAdministrator(f.user.userId, company.subjectType, company.subjectId);
        await issueGrant(storage, f, NOW, { subjectId: company.subjectId });
      }
      for (let i = 0; i < 3; i++) await storage.authorizationCodes.create(codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 600 }));
      let done: unknown;
      const executed = await recordSqliteStatements(async () => {
        await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, {
          now: NOW + 10, grantRevoked: () => { throw new Error('no grant is left with nothing'); },
          auditEvent: (counts) => {
            done = counts;
            return { type: 'client.updated', at: NOW + 10, actor: 'admin:ops', clientId: f.client.clientId, details: { ...counts } };
          },
        });
      }, { exec: false });
      assert.deepEqual(done, { grantsNarrowed: 6, grantsRevoked: 0, accessTokensRevoked: 6 });
      const count = (prefix: string) => executed.filter((sql) => sql.startsWith(prefix)).length;
      const summary = executed.map((sql) => sql.slice(0, 50)).join(' | ');
      assert.equal(count('UPDATE grants'), 1, summary);
      assert.equal(count('UPDATE tokens'), 2, summary);
      assert.equal(count('UPDATE authorization_codes'), 2, summary);
      // The client's row, the grants holding a removed scope, the five UPDATEs and the audit event (and the write lock's pragmas).
      assert.ok(executed.length <= 10, `${executed.length} statements: ${summary}`);
    } finally {
      await storage.close();
    }
  });
});
