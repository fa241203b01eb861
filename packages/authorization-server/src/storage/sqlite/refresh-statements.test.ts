/**
 * Issue 12, "A refresh is a compare-and-swap that reads and writes in as few statements as possible":
 * counts every SQLite statement one HTTP refresh (grace window on, the default; no scope, resource or DPoP
 * proof named: `tokens.rotateReadyRefreshToken`) executes, and pins the number so that a regression shows
 * here rather than only in the benchmark.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { confidentialAuth, obtainTokens, postForm, startTestServer, type TestServer } from '../../testing/harness.ts';
import { recordSqliteStatements } from '../../testing/sqlite-statements.ts';


describe('SQLite: the statements of one refresh rotation (issue 12)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('reads and rotates in one transaction of six statements: the token with its grant, then the UPDATE by primary key its read makes safe', async () => {
    const { tokens } = await obtainTokens(server);
    let status = 0;
    const executed = await recordSqliteStatements(async () => {
      const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
      status = response.status;
    });
    assert.equal(status, 200);
    if (process.env.PRINT_STATEMENTS) for (const sql of executed) console.log(sql.slice(0, 160));
    // The rotation's transaction is the SAVEPOINT (group commit, sqlite/group-commit.ts: one per operation
    // inside the turn's batch) that writes tokens; the batch's BEGIN IMMEDIATE … COMMIT wraps it.
    const begin = executed.findLastIndex((sql, at) => sql.startsWith('SAVEPOINT') && executed.slice(at).some((later) => later.startsWith('UPDATE tokens')));
    const commit = executed.findIndex((sql, at) => at > begin && sql.startsWith('RELEASE'));
    assert.ok(begin >= 0 && commit > begin, 'the rotation runs in one transaction (a SAVEPOINT of the batch)');
    assert.ok(executed.slice(commit).includes('COMMIT'), 'its batch commits before the answer');
    const inTransaction = executed.slice(begin + 1, commit);
    const summary = inTransaction.map((sql) => sql.slice(0, 60)).join(' | ');
    // Issue 12 (tokens.rotateReadyRefreshToken): the token with its grant is read in the rotation's transaction,
    // checked, then rotated by primary key: in the batch's write transaction nothing can change them in between.
    assert.match(inTransaction[0]!, /^SELECT t\.token_digest, .* FROM tokens t JOIN grants g ON g\.grant_id = t\.grant_id JOIN clients c ON c\.client_id = t\.client_id WHERE t\.token_digest = \?$/, `the token with its grant and client first: ${summary}`);
    assert.match(inTransaction[1]!, /^UPDATE tokens SET rotated_at = \? WHERE token_digest = \?$/, `then the rotation, by primary key alone: ${summary}`);
    assert.equal(inTransaction.filter((sql) => sql.startsWith('SELECT')).length, 1, `one SELECT inside the rotation: ${summary}`);
    assert.equal(inTransaction.filter((sql) => sql.startsWith('INSERT INTO tokens')).length, 1, `both new tokens in one INSERT: ${summary}`);
    assert.equal(inTransaction.length, 6, `read, CAS, access revocation, tokens, audit event, grace record: ${summary}`);
    // Before the transaction, nothing: the client authentication and the resource catalogue are served by
    // their caches (storage/client-cache.ts, storage/resource-cache.ts).
    const reads = executed.slice(0, begin).filter((sql) => sql.startsWith('SELECT'));
    assert.equal(reads.length, 0, `reads before the rotation: ${reads.map((sql) => sql.slice(0, 60)).join(' | ')}`);
  });
});
