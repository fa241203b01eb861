/**
 * Issue 15 §5 moved the audit events of a user disconnect, an administrator's revocation and a refresh-token
 * reuse detection into the revoking storage transaction (GrantRevocationEffects). They must still reach
 * the audit stream (GATEHOUSE_AUDIT_STREAM) and the metrics, once, exactly when the revocation happened.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { openAuditStream } from '../operations/audit-stream.ts';
import { confidentialAuth, obtainTokens, postForm, seed, startTestServer } from '../testing/harness.ts';

describe('revocations committed with their audit event still reach the audit stream (issue 15 §5, issue 14)', () => {
  it('an admin revocation and a reuse detection each write one line; a second revocation of the same grant writes none', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-revocation-stream-'));
    const path = join(directory, 'audit.jsonl');
    const stream = openAuditStream({ kind: 'file', path });
    const server = await startTestServer({ auditStream: stream, refreshTokenReuseGraceSeconds: 0 });
    try {
      const adminToken = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}` });
      const [grant] = await server.storage.grants.listActive({ clientId: seed.confidentialClient.id });
      const revoke = () => fetch(`${server.url}/admin/v1/grants/${grant!.grantId}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal((await revoke()).status, 200);
      assert.equal((await revoke()).status, 409);

      const { tokens } = await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[1].id}` });
      assert.equal((await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() })).status, 200);
      assert.equal((await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() })).json.error, 'invalid_grant');
      await stream.close();

      const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; grantId: string | null; actor: string });
      assert.deepEqual(lines.filter((line) => line.type === 'grant.revoked').map((line) => [line.grantId, line.actor]), [[grant!.grantId, 'admin:ops-alice']]);
      assert.equal(lines.filter((line) => line.type === 'refresh_token.reuse_detected').length, 1);
      assert.ok(!readFileSync(path, 'utf8').includes(tokens.refresh_token), 'never a token value');
    } finally {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
