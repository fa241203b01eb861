import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { gatehouse } from '../testing/cli.ts';

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
    assert.equal(gatehouse(database, ['clients', 'webhook', clientId, '--remove']).status, 1, 'nothing left to remove');
    storage = createSqliteStorage(database);
    assert.equal(await storage.webhooks.findEndpoint(clientId), undefined);
    await storage.close();
  });
});
