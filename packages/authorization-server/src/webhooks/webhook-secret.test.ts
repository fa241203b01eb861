/** Issue 15 §5: which webhook URLs a partner may register (webhookUrlProblem). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registerClient } from '../clients/registration.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { setClientWebhook } from './webhook-endpoint.ts';
import { webhookUrlProblem } from './webhook-secret.ts';

const skipPostgres = await postgresSkipReason();

describe('webhookUrlProblem', () => {
  it('accepts https anywhere, and http on a loopback host (as @gatehouse/protocol names them) outside production', () => {
    assert.equal(webhookUrlProblem('https://hooks.example.com/gatehouse', 'production'), undefined);
    for (const url of ['http://localhost:8080/hooks', 'http://127.0.0.1/hooks', 'http://[::1]:9000/hooks']) {
      assert.equal(webhookUrlProblem(url, 'development'), undefined, url);
      assert.match(webhookUrlProblem(url, 'production')!, /must use https/, `${url} in production`);
    }
  });

  it('refuses in production an https URL on a host that is not public: loopback, names under localhost, private and link-local literals (no SSRF into the platform\'s network)', () => {
    for (const url of ['https://localhost/hooks', 'https://127.0.0.1/hooks', 'https://[::1]/hooks', 'https://app.localhost/hooks', 'https://10.0.0.5/hooks',
      'https://192.168.1.10:8443/hooks', 'https://172.16.0.1/hooks', 'https://169.254.169.254/latest/meta-data', 'https://[fd00::1]/hooks']) {
      assert.match(webhookUrlProblem(url, 'production')!, /public address in production/, url);
      assert.equal(webhookUrlProblem(url, 'staging'), undefined, `${url} in staging`);
    }
    assert.equal(webhookUrlProblem('https://hooks.partner.example/gatehouse', 'production'), undefined);
  });

  it('refuses http elsewhere, credentials, fragments, relative URLs and non-strings', () => {
    assert.match(webhookUrlProblem('http://hooks.example.com/', 'development')!, /must use https/);
    assert.match(webhookUrlProblem('http://127.0.0.2/', 'development')!, /must use https/);
    assert.match(webhookUrlProblem('https://user:pass@hooks.example.com/', 'development')!, /credentials/);
    assert.match(webhookUrlProblem('https://hooks.example.com/#x', 'development')!, /fragment/);
    assert.match(webhookUrlProblem('/hooks', 'development')!, /absolute URL/);
    assert.match(webhookUrlProblem(42, 'development')!, /string/);
  });

  it('refuses a URL holding a control character: a NUL one reached PostgreSQL, which cannot hold it in text, and setting the webhook was a 500', { skip: skipPostgres }, async () => {
    for (const url of ['https://hooks.example.com/a\u0000b', 'https://hooks.example.com/a\u0001b', 'https://hooks.example.com/?x=\u007F']) {
      assert.match(webhookUrlProblem(url, 'development') ?? 'accepted', /must not contain control characters/, JSON.stringify(url));
    }
    const storage = await createTestPostgresStorage();
    try {
      const context = { storage, environment: 'development' as const, brandName: 'Gatehouse', now: 1_800_000_000 };
      const { client } = await registerClient(context, { clientName: 'Ledgerly Sync', clientType: 'confidential', redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'] });
      const outcome = await setClientWebhook(storage, Buffer.alloc(32), 'development', client.clientId, 'https://hooks.example.com/a\u0000b', 'admin:ops', context.now);
      assert.equal(outcome.outcome, 'invalid_url');
      assert.equal(await storage.webhooks.findEndpoint(client.clientId), undefined);
    } finally {
      await storage.close();
    }
  });
});
