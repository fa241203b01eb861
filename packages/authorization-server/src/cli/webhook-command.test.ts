import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { gatehouse, gatehouseWith } from '../testing/cli.ts';

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-webhook-cli-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));


describe('gatehouse clients webhook (issue 15 §5)', () => {
  it('--url sets the webhook and prints the whsec_ secret once (stored only encrypted); --remove removes it; a non-https URL is a usage error', async () => {
    const database = join(temporaryDirectory, randomUUID(), 'gatehouse.sqlite');
    const created = gatehouse(database, ['clients', 'create', '--name', 'Ledgerly Sync', '--type', 'confidential', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'users:read', '--json']);
    assert.equal(created.status, 0, created.stderr);
    const clientId = JSON.parse(created.stdout).client_id as string;

    const refused = gatehouse(database, ['clients', 'webhook', clientId, '--url', 'http://ledgerly.example/hooks']);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /must use https/);
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId]).status, 2, 'one of --url and --remove is required');

    const set = gatehouse(database, ['clients', 'webhook', clientId, '--url', 'https://ledgerly.example/hooks', '--json']);
    assert.equal(set.status, 0, set.stderr);
    const answer = JSON.parse(set.stdout);
    assert.match(answer.secret, /^whsec_/);
    let storage = createSqliteStorage(database);
    const endpoint = await storage.webhooks.findEndpoint(clientId);
    await storage.close();
    assert.equal(endpoint?.url, 'https://ledgerly.example/hooks');
    assert.ok(!endpoint.secretCiphertext.includes(answer.secret.slice(6)));

    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--remove']).status, 0);
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--remove']).status, 2, 'nothing left to remove');
    storage = createSqliteStorage(database);
    assert.equal(await storage.webhooks.findEndpoint(clientId), undefined);
    await storage.close();
  });
  it('--events, --show, --rotate-secret, --deliveries and --resend match the admin API; each is audited as admin:cli; the secret is never shown by --show', async () => {
    const database = join(temporaryDirectory, randomUUID(), 'gatehouse.sqlite');
    const created = gatehouse(database, ['clients', 'create', '--name', 'Ledgerly Sync', '--type', 'confidential', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'users:read', '--json']);
    const clientId = JSON.parse(created.stdout).client_id as string;
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--show']).status, 2, 'no webhook yet');
    const set = gatehouse(database, ['clients', 'webhook', clientId, '--url', 'https://ledgerly.example/hooks', '--events', 'grant.revoked client.deleted', '--json']);
    assert.equal(set.status, 0, set.stderr);
    const first = JSON.parse(set.stdout);
    assert.deepEqual(first.event_types, ['grant.revoked', 'client.deleted']);

    const refused = gatehouse(database, ['clients', 'webhook', clientId, '--events', 'grant.revoked token.issued']);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /unknown event type "token.issued"/);
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--show', '--remove']).status, 2, 'one action at a time');
    assert.equal(gatehouse(database, ['clients', 'show', clientId, '--deliveries']).status, 2, 'an option of "clients webhook" only');

    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--events', 'all']).status, 0);
    const shown = gatehouse(database, ['clients', 'webhook', clientId, '--show', '--json']);
    assert.deepEqual(JSON.parse(shown.stdout), { client_id: clientId, url: 'https://ledgerly.example/hooks', event_types: null, created_at: first.created_at });
    assert.ok(!shown.stdout.includes('whsec_'));

    const rotated = gatehouse(database, ['clients', 'webhook', clientId, '--rotate-secret', '--json']);
    assert.equal(rotated.status, 0, rotated.stderr);
    const secret = JSON.parse(rotated.stdout).secret as string;
    assert.match(secret, /^whsec_/);
    assert.notEqual(secret, first.secret);

    let storage = createSqliteStorage(database);
    await storage.webhooks.enqueue({
      deliveryId: 'msg_cli_resend', clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended","data":{}}', createdAt: 1_800_000_000,
      attempts: 8, nextAttemptAt: null, lastAttemptAt: 1_800_000_100, lastStatus: 500, deliveredAt: null,
    });
    await storage.close();
    const log = gatehouse(database, ['clients', 'webhook', clientId, '--deliveries', '--json']);
    assert.deepEqual(JSON.parse(log.stdout).map((d: { delivery_id: string; attempts: number; next_attempt_at: null }) => [d.delivery_id, d.attempts, d.next_attempt_at]), [['msg_cli_resend', 8, null]]);
    assert.match(gatehouse(database, ['clients', 'webhook', clientId, '--deliveries']).stdout, /msg_cli_resend\s+client\.suspended\s+given up/);
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--resend', 'msg_unknown']).status, 2);
    // README "The CLI": an unknown client is a refused change (2), whatever the option.
    for (const option of ['--show', '--remove', '--deliveries']) {
      assert.equal(gatehouse(database, ['clients', 'webhook', randomUUID(), option]).status, 2, option);
    }
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--resend', 'msg_cli_resend']).status, 0);

    storage = createSqliteStorage(database);
    const [delivery] = await storage.webhooks.list(clientId, 10);
    assert.notEqual(delivery!.nextAttemptAt, null, 'due again');
    const audit = await storage.audit.list({ clientId });
    await storage.close();
    assert.deepEqual(audit.map((event) => event.type).filter((type) => type.startsWith('client.webhook')),
      ['client.webhook_resent', 'client.webhook_secret_rotated', 'client.webhook_events_set', 'client.webhook_set']);
    assert.ok(audit.every((event) => event.actor === 'admin:cli'));
    assert.ok(!JSON.stringify(audit).includes(secret.slice(6)) && !JSON.stringify(audit).includes(first.secret.slice(6)), 'never a secret in the audit log');
  });

  it('in staging --url refuses a loopback, private or metadata address (exit 2, the API\'s wording) unless GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true; production refuses that setting', async () => {
    const database = join(temporaryDirectory, randomUUID(), 'gatehouse.sqlite');
    const staging = { GATEHOUSE_DATABASE: database, GATEHOUSE_ENV: 'staging', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: 'k'.repeat(43) };
    const created = gatehouseWith(['clients', 'create', '--name', 'Ledgerly Sync', '--type', 'confidential', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'users:read', '--json'], staging);
    assert.equal(created.status, 0, created.stderr);
    const clientId = JSON.parse(created.stdout).client_id as string;
    for (const [url, problem] of [
      ['https://169.254.169.254/latest/meta-data/', 'url must be a public address (no localhost, private, link-local or metadata addresses)'],
      ['https://10.0.0.5/hooks', 'url must be a public address (no localhost, private, link-local or metadata addresses)'],
      ['http://localhost:6379/', 'url must use https (http only for localhost, 127.0.0.1 or [::1] on a development server)'],
    ]) {
      const refused = gatehouseWith(['clients', 'webhook', clientId, '--url', url], staging);
      assert.equal(refused.status, 2, url);
      assert.ok(refused.stderr.includes(`--url: ${problem}`), refused.stderr);
    }
    const storage = createSqliteStorage(database);
    assert.equal(await storage.webhooks.findEndpoint(clientId), undefined);
    await storage.close();

    const allowed = gatehouseWith(['clients', 'webhook', clientId, '--url', 'https://10.0.0.5/hooks', '--json'], { ...staging, GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    assert.equal(allowed.status, 0, allowed.stderr);
    const production = gatehouseWith(['clients', 'webhook', clientId, '--show'], { ...staging, GATEHOUSE_ENV: 'production', GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    assert.equal(production.status, 1, 'a configuration problem, not a usage error');
    assert.match(production.stderr, /GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true is refused in production/);
  });
});
