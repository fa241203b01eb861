/**
 * The clients store (storage.ts `clients`): registered clients and their registration fields (RFC 7591 §2).
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW, digest, clientRecord, userRecord } from './fixtures.ts';

export function clientsContract({ withStorage }: ContractBackend): void {
  describe('clients', () => {
    it('stores a client and finds it by client_id with every field intact (RFC 7591 §2 metadata)', withStorage(async (storage) => {
      const confidential = clientRecord();
      const publicClient = clientRecord({
        clientType: 'public', secretDigest: null, subjectType: null, clientUri: null, logoUri: null, tosUri: null, policyUri: null,
        redirectUris: ['com.example.app:/cb'], scopes: ['test:test'], createdAt: NOW + 1,
      });
      const exception = clientRecord({ pkceRequired: false, status: 'pending', subjectType: 'organization', createdAt: NOW + 2 });
      const resourceServer = clientRecord({
        kind: 'resource_server', redirectUris: [], scopes: [], subjectType: null, audience: 'http://localhost:3001', createdAt: NOW + 3,
      });
      for (const client of [confidential, publicClient, exception, resourceServer]) await storage.clients.create(client);
      assert.deepEqual(await storage.clients.find(confidential.clientId), confidential);
      assert.deepEqual(await storage.clients.find(publicClient.clientId), publicClient);
      assert.deepEqual(await storage.clients.find(exception.clientId), exception);
      assert.deepEqual(await storage.clients.find(resourceServer.clientId), resourceServer);
    }));

    it('finds no client for an unknown client_id', withStorage(async (storage) => {
      await storage.clients.create(clientRecord());
      assert.equal(await storage.clients.find(randomUUID()), undefined);
      // A NUL (which PostgreSQL text cannot hold) finds no client, without an error (a 500 at every OAuth endpoint before).
      const stored = clientRecord();
      await storage.clients.create(stored);
      assert.equal(await storage.clients.find(`${stored.clientId}\u0000`), undefined);
    }));

    it('refuses a second client with the same client_id (the client identifier is unique, RFC 6749 §2.2)', withStorage(async (storage) => {
      const client = clientRecord();
      await storage.clients.create(client);
      await assert.rejects(storage.clients.create(clientRecord({ clientId: client.clientId, clientName: 'Impostor' })));
      assert.equal((await storage.clients.find(client.clientId))?.clientName, client.clientName);
    }));

    it('lists every client, and none in an empty store', withStorage(async (storage) => {
      assert.deepEqual(await storage.clients.list(), []);
      const first = clientRecord({ clientName: 'First', createdAt: NOW });
      const second = clientRecord({ clientName: 'Second', clientType: 'public', secretDigest: null, createdAt: NOW + 10 });
      await storage.clients.create(first);
      await storage.clients.create(second);
      const listed = await storage.clients.list();
      assert.equal(listed.length, 2);
      assert.deepEqual(listed.find((c) => c.clientId === first.clientId), first);
      assert.deepEqual(listed.find((c) => c.clientId === second.clientId), second);
    }));

    it('stores the registration fields of the seed (initiation and settings URIs, contacts, owner) and the review flag', withStorage(async (storage) => {
      const owner = userRecord();
      await storage.users.create(owner);
      const client = clientRecord({ ownerUserId: owner.userId, brandingVerified: false, previousSecretDigest: digest(), previousSecretExpiresAt: NOW + 600 });
      await storage.clients.create(client);
      assert.deepEqual(await storage.clients.find(client.clientId), client);
    }));

    it('update changes only the given fields, clears with null, and answers undefined for an unknown client_id', withStorage(async (storage) => {
      const client = clientRecord();
      await storage.clients.create(client);
      const previous = client.secretDigest;
      const changed = await storage.clients.update(client.clientId, {
        clientName: 'Ledgerly Sync 2', redirectUris: ['https://ledgerly.example/cb2'], scopes: ['accounts:read'], contacts: ['ops@ledgerly.example'],
        logoUri: null, pkceRequired: false, status: 'suspended', brandingVerified: false, secretDigest: digest(),
        previousSecretDigest: previous, previousSecretExpiresAt: NOW + 60, subjectType: null,
      }, { now: NOW });
      assert.ok(changed);
      assert.deepEqual(await storage.clients.find(client.clientId), changed);
      assert.equal(changed.clientName, 'Ledgerly Sync 2');
      assert.deepEqual(changed.redirectUris, ['https://ledgerly.example/cb2']);
      assert.deepEqual(changed.scopes, ['accounts:read']);
      assert.deepEqual(changed.contacts, ['ops@ledgerly.example']);
      assert.equal(changed.logoUri, null);
      assert.equal(changed.pkceRequired, false);
      assert.equal(changed.status, 'suspended');
      assert.equal(changed.brandingVerified, false);
      assert.equal(changed.previousSecretDigest, previous);
      assert.equal(changed.previousSecretExpiresAt, NOW + 60);
      assert.equal(changed.subjectType, null);
      // Untouched fields stay.
      assert.equal(changed.tosUri, client.tosUri);
      assert.equal(changed.initiationUri, client.initiationUri);
      assert.equal(changed.createdAt, client.createdAt);
      assert.deepEqual(await storage.clients.update(client.clientId, {}), changed);
      assert.equal(await storage.clients.update(randomUUID(), { clientName: 'Nobody' }), undefined);
    }));

    it('update sets and clears the later optional fields (PAR, DPoP, marketplace), and refuses the identity fields and unknown ones', withStorage(async (storage) => {
      const client = clientRecord();
      await storage.clients.create(client);
      const set = await storage.clients.update(client.clientId, {
        requirePushedAuthorizationRequests: true, dpopBoundAccessTokens: true, description: 'Invoices, synced', category: 'accounting',
      });
      assert.deepEqual(set, { ...client, requirePushedAuthorizationRequests: true, dpopBoundAccessTokens: true, description: 'Invoices, synced', category: 'accounting' });
      assert.deepEqual(await storage.clients.find(client.clientId), set);
      // Absent again, not false or null: a record that never had them compares equal.
      const cleared = await storage.clients.update(client.clientId, {
        requirePushedAuthorizationRequests: false, dpopBoundAccessTokens: false, description: null, category: null,
      });
      assert.deepEqual(cleared, client);
      for (const patch of [{ clientId: randomUUID() }, { kind: 'resource_server' }, { createdAt: NOW + 5 }, { clientSecret: 'x' }]) {
        await assert.rejects(storage.clients.update(client.clientId, patch as never), /clients\.update cannot change/, JSON.stringify(patch));
      }
      assert.deepEqual(await storage.clients.find(client.clientId), client, 'nothing changed by a refused patch');
    }));

    it('listByOwner lists only the clients one partner developer registered', withStorage(async (storage) => {
      const [alice, bob] = [userRecord(), userRecord()];
      for (const user of [alice, bob]) await storage.users.create(user);
      const first = clientRecord({ ownerUserId: alice.userId, createdAt: NOW });
      const second = clientRecord({ ownerUserId: alice.userId, createdAt: NOW + 1 });
      const other = clientRecord({ ownerUserId: bob.userId });
      const adminClient = clientRecord();
      for (const client of [first, second, other, adminClient]) await storage.clients.create(client);
      assert.deepEqual((await storage.clients.listByOwner(alice.userId)).map((c) => c.clientId), [first.clientId, second.clientId]);
      assert.deepEqual((await storage.clients.listByOwner(bob.userId)).map((c) => c.clientId), [other.clientId]);
      assert.deepEqual(await storage.clients.listByOwner(randomUUID()), []);
    }));
  });
}
