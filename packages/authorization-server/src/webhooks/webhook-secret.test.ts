/** Issue 15 §5: which webhook URLs a partner may register (webhookUrlProblem). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registerClient } from '../clients/registration.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { setClientWebhook } from './webhook-endpoint.ts';
import { privateWebhookTargetsAllowed, webhookUrlForAudit, webhookUrlProblem } from './webhook-secret.ts';

const skipPostgres = await postgresSkipReason();

describe('webhookUrlForAudit', () => {
  it('keeps scheme, host, port and path and redacts a query and a fragment whole (names and values); never user information', () => {
    for (const [url, recorded] of [
      ['https://hooks.example/in?token=s3cr3t', 'https://hooks.example/in?[redacted]'],
      ['https://hooks.example:8443/a/b%20c?token=s3cr3t&tenant=fjord', 'https://hooks.example:8443/a/b%20c?[redacted]'],
      ['https://hooks.example/in?s3cr3t', 'https://hooks.example/in?[redacted]'],
      ['https://hooks.example/in#s3cr3t', 'https://hooks.example/in#[redacted]'],
      ['https://user:s3cr3t@hooks.example/in', 'https://hooks.example/in'],
      ['http://[::1]:9000/hooks?key=s3cr3t', 'http://[::1]:9000/hooks?[redacted]'],
      ['https://hooks.example/in', 'https://hooks.example/in'],
      ['https://hooks.example/in?', 'https://hooks.example/in'],
      ['not a URL s3cr3t', '[redacted]'],
    ]) {
      assert.equal(webhookUrlForAudit(url!), recorded, url);
      assert.ok(!webhookUrlForAudit(url!).includes('s3cr3t'));
    }
  });
});

describe('webhookUrlProblem', () => {
  const PUBLIC_ONLY = 'url must be a public address (no localhost, private, link-local or metadata addresses)';
  const HTTP_DEVELOPMENT_ONLY = 'url must use https (http only for localhost, 127.0.0.1 or [::1] on a development server)';

  it('accepts https to a public host everywhere, and http on a loopback host (as @gatehouse/protocol names them) in development only', () => {
    for (const environment of ['development', 'staging', 'production']) assert.equal(webhookUrlProblem('https://hooks.example.com/gatehouse', environment), undefined, environment);
    for (const url of ['http://localhost:8080/hooks', 'http://127.0.0.1/hooks', 'http://[::1]:9000/hooks', 'http://localhost:6379/']) {
      assert.equal(webhookUrlProblem(url, 'development'), undefined, url);
      for (const environment of ['staging', 'production']) assert.equal(webhookUrlProblem(url, environment), HTTP_DEVELOPMENT_ONLY, `${url} in ${environment}`);
    }
  });

  it('refuses in staging, as in production, an https URL on a host that is not public: loopback, names under localhost, private, link-local (the metadata address), IPv4-mapped and other spellings of them (no SSRF into the platform\'s network)', () => {
    for (const url of ['https://localhost/hooks', 'https://127.0.0.1/hooks', 'https://[::1]/hooks', 'https://app.localhost/hooks', 'https://10.0.0.5/',
      'https://192.168.1.10:8443/hooks', 'https://172.16.0.1/hooks', 'https://169.254.169.254/latest/meta-data', 'https://[fd00::1]/hooks',
      'https://[::ffff:10.0.0.5]/', 'https://[::ffff:169.254.169.254]/latest/meta-data', 'https://2852039166/latest/meta-data', 'https://0x7f.1/hooks',
      'https://0/hooks', 'https://[::]/hooks', 'https://100.64.0.1/hooks', 'https://[fe80::1]/hooks']) {
      assert.equal(webhookUrlProblem(url, 'production'), PUBLIC_ONLY, url);
      assert.equal(webhookUrlProblem(url, 'staging'), PUBLIC_ONLY, `${url} in staging`);
      assert.equal(webhookUrlProblem(url, 'development'), undefined, `${url} in development`);
    }
    // The decimal, octal and hex spellings of 127.0.0.1 the URL parser accepts, the rest of fc00::/7 and fe80::/10,
    // 198.18.0.0/15, and the IPv4-compatible and NAT64 forms of 127.0.0.1 (public-address.ts isPublicAddress).
    for (const url of ['https://2130706433/', 'https://0177.0.0.1/', 'https://0x7f.1/', 'https://017700000001/', 'https://0x7f000001/', 'https://127.1/',
      'https://[fc00::1]/', 'https://[febf::1]/', 'https://198.18.0.1/', 'https://[::7f00:1]/', 'https://[::ffff:7f00:1]/', 'https://[64:ff9b::7f00:1]/', 'https://0xa9fea9fe/']) {
      assert.equal(webhookUrlProblem(url, 'staging'), PUBLIC_ONLY, url);
    }
    assert.equal(webhookUrlProblem('https://hooks.partner.example/gatehouse', 'staging'), undefined);
    assert.equal(webhookUrlProblem('https://[2606:4700:4700::1111]/hooks', 'staging'), undefined);
  });

  it('GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES lets staging accept them as development does; production never; an unknown environment counts as production', () => {
    for (const url of ['https://10.0.0.5/', 'https://169.254.169.254/latest/meta-data', 'http://localhost:6379/']) {
      assert.equal(webhookUrlProblem(url, 'staging', true), undefined, url);
      assert.notEqual(webhookUrlProblem(url, 'production', true), undefined, `${url} in production`);
    }
    assert.equal(webhookUrlProblem('http://hooks.example.com/', 'staging', true), 'url must use https (http only for localhost, 127.0.0.1 or [::1])');
    assert.deepEqual([['development', false], ['staging', false], ['staging', true], ['production', false], ['production', true], ['Production', false], [undefined, true]]
      .map(([environment, allow]) => privateWebhookTargetsAllowed(environment as string | undefined, allow as boolean)), [true, false, true, false, false, false, false]);
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
      const outcome = await setClientWebhook(storage, Buffer.alloc(32), { environment: 'development' }, client.clientId, 'https://hooks.example.com/a\u0000b', 'admin:ops', context.now);
      assert.equal(outcome.outcome, 'invalid_url');
      assert.equal(await storage.webhooks.findEndpoint(client.clientId), undefined);
    } finally {
      await storage.close();
    }
  });
});
