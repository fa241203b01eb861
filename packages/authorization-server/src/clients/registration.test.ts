import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Environment } from '../options.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorize, authorizeUrl, Browser, pkcePair, startTestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { registerClient, RegistrationError, validateClientMetadata, type ClientMetadata, type ClientRegistration } from './registration.ts';

const NOW = 1_800_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const confidential: ClientRegistration = {
  clientName: 'Ledgerly Sync', clientType: 'confidential', redirectUris: ['https://ledgerly.example/oauth/callback'],
  scopes: ['users:read', 'vendors:write'], subjectType: 'company',
  clientUri: 'https://ledgerly.example', logoUri: 'https://ledgerly.example/logo.png',
  tosUri: 'https://ledgerly.example/terms', policyUri: 'https://ledgerly.example/privacy',
};
const publicClient: ClientRegistration = {
  clientName: 'Ledgerly Mobile', clientType: 'public', redirectUris: ['com.ledgerly.mobile:/oauth2redirect'], scopes: ['test:test'],
};

/** Runs `body` with a fresh in-memory storage and a registration context for `environment`. */
function withContext(environment: Environment, body: (context: { storage: Storage; environment: Environment; brandName: string; now: number }) => Promise<void>) {
  return async () => {
    const storage = createSqliteStorage(':memory:');
    try {
      await body({ storage, environment, brandName: 'Gatehouse', now: NOW });
    } finally {
      await storage.close();
    }
  };
}

async function refusal(promise: Promise<unknown>, field: string, error: RegistrationError['error'] = 'invalid_client_metadata'): Promise<RegistrationError> {
  let caught: unknown;
  await assert.rejects(promise, (thrown) => {
    caught = thrown;
    return thrown instanceof RegistrationError;
  });
  const refusedError = caught as RegistrationError;
  assert.equal(refusedError.field, field);
  assert.equal(refusedError.error, error);
  assert.ok(refusedError.message.startsWith(`${field}: `), refusedError.message);
  return refusedError;
}

describe('client registration', () => {
  it('activates a client at once in development (SPEC decision 13)', withContext('development', async (context) => {
    const { client } = await registerClient(context, confidential);
    assert.equal(client.status, 'active');
    assert.deepEqual(await context.storage.clients.find(client.clientId), client);
  }));

  for (const environment of ['staging', 'production'] as const) {
    it(`keeps a new client pending in ${environment} until an administrator approves it (SPEC decision 13)`, withContext(environment, async (context) => {
      const { client } = await registerClient(context, confidential);
      assert.equal(client.status, 'pending');
      assert.equal((await context.storage.clients.find(client.clientId))?.status, 'pending');
    }));
  }

  it('gives a confidential client a UUID and a 256-bit base64url secret, storing only its SHA-256 (SPEC decisions 1 and 9)', withContext('development', async (context) => {
    const { client, clientSecret } = await registerClient(context, confidential);
    assert.match(client.clientId, UUID);
    assert.match(clientSecret!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(clientSecret!, 'base64url').length, 32);
    assert.equal(client.secretDigest, createHash('sha256').update(clientSecret!).digest('base64url'));
    const stored = await context.storage.clients.find(client.clientId);
    assert.equal(stored?.secretDigest, client.secretDigest);
    assert.ok(!JSON.stringify(stored).includes(clientSecret!), 'the secret itself is not in the stored record');
    assert.equal(client.clientType, 'confidential');
    assert.equal(client.kind, 'client');
    assert.equal(client.pkceRequired, true);
    assert.equal(client.createdAt, NOW);
    assert.deepEqual(
      { clientName: client.clientName, redirectUris: client.redirectUris, scopes: client.scopes, subjectType: client.subjectType, clientUri: client.clientUri, logoUri: client.logoUri, tosUri: client.tosUri, policyUri: client.policyUri },
      { clientName: 'Ledgerly Sync', redirectUris: confidential.redirectUris, scopes: confidential.scopes, subjectType: 'company', clientUri: confidential.clientUri, logoUri: confidential.logoUri, tosUri: confidential.tosUri, policyUri: confidential.policyUri },
    );
  }));

  it('issues a different secret to every confidential client', withContext('development', async (context) => {
    const first = await registerClient(context, confidential);
    const second = await registerClient(context, confidential);
    assert.notEqual(first.clientSecret, second.clientSecret);
    assert.notEqual(first.client.clientId, second.client.clientId);
  }));

  it('gives a public client no secret (SPEC decision 1: token_endpoint_auth_method none)', withContext('development', async (context) => {
    const { client, clientSecret } = await registerClient(context, publicClient);
    assert.equal(clientSecret, undefined);
    assert.equal(client.secretDigest, null);
    assert.equal(client.clientType, 'public');
    assert.equal(client.pkceRequired, true);
    assert.equal(client.subjectType, null); // SPEC decision 12: none means company
  }));

  it('trims the name and de-duplicates scopes', withContext('development', async (context) => {
    const { client } = await registerClient(context, { ...confidential, clientName: '  Ledgerly Sync  ', scopes: ['users:read', 'users:read'] });
    assert.equal(client.clientName, 'Ledgerly Sync');
    assert.deepEqual(client.scopes, ['users:read']);
  }));

  it('refuses an empty or blank client_name', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, clientName: '' }), 'client_name');
    await refusal(registerClient(context, { ...confidential, clientName: '   ' }), 'client_name');
    await refusal(registerClient(context, { ...confidential, clientName: 'x'.repeat(101) }), 'client_name');
  }));

  it('refuses the brand in client_name in any case or spacing (seeds: "Do not use <brand> branding")', withContext('development', async (context) => {
    for (const clientName of ['Gatehouse Sync', 'GATEHOUSE', 'gatehouse', 'Sync for gate house', 'Gate-House Connector', 'gate.house', 'GateHouse_Sync', 'My gate\thouse app']) {
      await refusal(registerClient(context, { ...confidential, clientName }), 'client_name');
    }
    assert.deepEqual(await context.storage.clients.list(), []);
  }));

  it('refuses the brand hidden by invisible or full-width characters (seeds: "Do not use <brand> branding")', withContext('development', async (context) => {
    for (const clientName of ['Gate\u200Bhouse Sync', 'Gate\u00ADhouse Sync', 'Ｇａｔｅｈｏｕｓｅ Sync']) {
      await refusal(registerClient(context, { ...confidential, clientName }), 'client_name');
    }
  }));

  it('refuses look-alikes of the brand in client_name by their UTS #39 confusable skeleton (seeds: "Do not use <brand> branding")', withContext('development', async (context) => {
    for (const clientName of [
      'G\u0430t\u0435house', // Cyrillic а and е
      'G\u0391\u03A4\u0395\u0397\u039FUS\u0395 Sync', // Greek capitals Α Τ Ε Η Ο Ε
      'Gateh\u03BF\u03C5se', // Greek small ο and υ
      'g\u0410t\u0415House', // mixed case, Cyrillic capitals А and Е
      'GATEH\u041EUSE', // upper case, Cyrillic О
      'G \u0430 t \u0435 h o u s e', // spaced
      'Sync for G\u0430t\u0435h\u043Euse Pro', // inside a longer name
      'Gateh0use Connect', // a zero for the o
    ]) {
      await refusal(registerClient(context, { ...confidential, clientName }), 'client_name');
    }
    assert.deepEqual(await context.storage.clients.list(), []);
  }));

  it('accepts names that only share letters with the brand, in any script', withContext('development', async (context) => {
    for (const clientName of ['Gate Keeper', 'Housekeeping Pro', 'Gates House', 'Gatehuose', '\u0411\u0443\u0445\u0433\u0430\u043B\u0442\u0435\u0440\u0438\u044F', '\u4F1A\u8A08\u30BD\u30D5\u30C8']) {
      const { client } = await registerClient(context, { ...confidential, clientName });
      assert.equal(client.clientName, clientName);
    }
  }));

  it('stores internationalized hosts of redirect and page URIs in their ASCII (punycode) form, the rest verbatim', withContext('development', async (context) => {
    const { client } = await registerClient(context, {
      ...confidential,
      redirectUris: ['https://b\u00FCcher.example:8443/oauth/callback?flag&x=a%20b', 'https://ledgerly.example/oauth/callback'],
      clientUri: 'https://B\u00DCCHER.example', logoUri: 'https://b\u00FCcher.example/logo.png', tosUri: 'https://\u043F\u0440\u0438\u043C\u0435\u0440.example/terms',
      policyUri: 'https://b%C3%BCcher.example/privacy', initiationUri: 'https://\u65E5\u672C.example/start?x=1', settingsUri: 'https://b\u00FCcher.example/settings',
    });
    const stored = await context.storage.clients.find(client.clientId);
    assert.deepEqual(stored?.redirectUris, ['https://xn--bcher-kva.example:8443/oauth/callback?flag&x=a%20b', 'https://ledgerly.example/oauth/callback']);
    assert.deepEqual(
      [stored?.clientUri, stored?.logoUri, stored?.tosUri, stored?.policyUri, stored?.initiationUri, stored?.settingsUri],
      ['https://xn--bcher-kva.example', 'https://xn--bcher-kva.example/logo.png', 'https://xn--e1afmkfd.example/terms',
        'https://xn--bcher-kva.example/privacy', 'https://xn--wgv71a.example/start?x=1', 'https://xn--bcher-kva.example/settings'],
    );
    // An ASCII host is kept exactly as written, case included.
    const { client: ascii } = await registerClient(context, { ...confidential, redirectUris: ['https://Ledgerly.example/CB?x=a+b'] });
    assert.deepEqual(ascii.redirectUris, ['https://Ledgerly.example/CB?x=a+b']);
  }));

  it('stores a page URI with its characters outside printable ASCII percent-encoded (RFC 3986 §2.1): no NUL for PostgreSQL, no Location a redirect cannot carry', withContext('development', async (context) => {
    const { client } = await registerClient(context, {
      ...confidential, clientUri: 'https://ledgerly.example/start\u0000', initiationUri: 'https://ledgerly.example/st\u0001art',
      settingsUri: 'https://b\u00FCcher.example/caf\u00E9?q=\u20AC', tosUri: 'https://ledgerly.example/vilk\u00E5r',
    });
    const stored = await context.storage.clients.find(client.clientId);
    assert.deepEqual([stored?.clientUri, stored?.initiationUri, stored?.settingsUri, stored?.tosUri], [
      'https://ledgerly.example/start%00', 'https://ledgerly.example/st%01art', 'https://xn--bcher-kva.example/caf%C3%A9?q=%E2%82%AC',
      'https://ledgerly.example/vilk%C3%A5r',
    ]);
  }));

  it('a client stored with a page URI outside printable ASCII (before 2026-12-07) still saves its other changes, the URI encoded', withContext('development', async (context) => {
    const { client } = await registerClient(context, confidential);
    await context.storage.clients.update(client.clientId, { logoUri: 'https://ledgerly.example/l\u00F8go.png' });
    const { updateClient } = await import('./client-management.ts');
    const updated = await updateClient({ ...context, actor: 'admin:test' }, client.clientId, { clientName: 'Ledgerly Sync 2' });
    assert.equal(updated.clientName, 'Ledgerly Sync 2');
    assert.equal(updated.logoUri, 'https://ledgerly.example/l%C3%B8go.png');
  }));

  it('converts internationalized hosts on every metadata update too', () => {
    const metadata: ClientMetadata = {
      clientName: 'Ledgerly Sync', clientType: 'confidential', redirectUris: ['https://b\u00FCcher.example/cb'], scopes: ['users:read'],
      subjectType: null, pkceRequired: true, clientUri: 'https://b\u00FCcher.example', logoUri: null, tosUri: null, policyUri: null,
      initiationUri: null, settingsUri: null, contacts: [],
    };
    const validated = validateClientMetadata(metadata, 'production', 'Gatehouse');
    assert.deepEqual(validated.redirectUris, ['https://xn--bcher-kva.example/cb']);
    assert.equal(validated.clientUri, 'https://xn--bcher-kva.example');
    assert.deepEqual(validateClientMetadata(validated, 'production', 'Gatehouse'), validated, 'idempotent on stored values');
  });

  it('refuses a mixed-script host label with invalid_redirect_uri or invalid_client_metadata naming the field (UTS #39 §5.1)', withContext('development', async (context) => {
    for (const uri of ['https://p\u0430ypal.example/cb', 'https://xn--pypal-4ve.example/cb', 'https://ledgerly.\u0440\u0430\u0443pal.example/cb']) {
      const refused = await refusal(registerClient(context, { ...confidential, redirectUris: [uri] }), 'redirect_uris', 'invalid_redirect_uri');
      assert.match(refused.message, /mixes scripts/);
    }
    const pageFields = [['clientUri', 'client_uri'], ['logoUri', 'logo_uri'], ['tosUri', 'tos_uri'], ['policyUri', 'policy_uri'], ['initiationUri', 'initiation_uri'], ['settingsUri', 'settings_uri']] as const;
    for (const [field, wireName] of pageFields) {
      const refused = await refusal(registerClient(context, { ...confidential, [field]: 'https://l\u0435dgerly.example/page' }), wireName);
      assert.match(refused.message, /mixes scripts/);
    }
    assert.deepEqual(await context.storage.clients.list(), []);
    assert.deepEqual(await context.storage.audit.list(), []);
  }));

  it('refuses the configured brand, not a fixed word', withContext('development', async (context) => {
    await refusal(registerClient({ ...context, brandName: 'Nordlys Pay' }, { ...confidential, clientName: 'nordlyspay sync' }), 'client_name');
    const { client } = await registerClient({ ...context, brandName: 'Nordlys Pay' }, { ...confidential, clientName: 'Gatehouse Sync' });
    assert.equal(client.clientName, 'Gatehouse Sync');
  }));

  it('refuses a registration without a redirect URI (seeds: redirect URIs are required)', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, redirectUris: [] }), 'redirect_uris', 'invalid_redirect_uri');
  }));

  it('refuses a bad redirect URI with invalid_redirect_uri naming the URI (RFC 7591 §3.2.2, SPEC decision 4)', withContext('production', async (context) => {
    for (const uri of ['http://ledgerly.example/cb', 'https://ledgerly.example/cb#x', 'https://*.ledgerly.example/cb', '/cb', 'http://localhost:8080/cb', 'javascript:alert(1)']) {
      const refused = await refusal(
        registerClient(context, { ...confidential, redirectUris: ['https://ledgerly.example/ok', uri] }), 'redirect_uris', 'invalid_redirect_uri',
      );
      assert.ok(refused.message.includes(uri), refused.message);
    }
    // RFC 8252 §7.1: private-use schemes only for public clients.
    await refusal(registerClient(context, { ...confidential, redirectUris: ['com.ledgerly.mobile:/cb'] }), 'redirect_uris', 'invalid_redirect_uri');
    assert.deepEqual(await context.storage.clients.list(), []);
  }));

  it('refuses an unknown scope and a registration with no scope (SPEC §3 scope catalogue)', withContext('development', async (context) => {
    const refused = await refusal(registerClient(context, { ...confidential, scopes: ['users:read', 'payments:write'] }), 'scope');
    assert.match(refused.message, /payments:write/);
    await refusal(registerClient(context, { ...confidential, scopes: ['USERS:READ'] }), 'scope');
    await refusal(registerClient(context, { ...confidential, scopes: [] }), 'scope');
  }));

  it('refuses a PKCE exception for a public client (SPEC decision 2; seeds: PKCE required for public clients)', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...publicClient, pkceRequired: false }), 'pkce_required');
    // An administrator may grant a confidential client the exception.
    const { client } = await registerClient(context, { ...confidential, pkceRequired: false });
    assert.equal(client.pkceRequired, false);
  }));

  it('refuses an unknown subject type or client type (SPEC decisions 1 and 12)', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, subjectType: 'person' as never }), 'subject_type');
    await refusal(registerClient(context, { ...confidential, clientType: 'trusted' as never }), 'token_endpoint_auth_method');
  }));

  it('records client.registered in the audit log without the secret (SPEC decision 19)', withContext('staging', async (context) => {
    const { client, clientSecret } = await registerClient(context, confidential);
    const events = await context.storage.audit.list();
    assert.equal(events.length, 1);
    const [event] = events;
    assert.equal(event!.type, 'client.registered');
    assert.equal(event!.at, NOW);
    assert.equal(event!.clientId, client.clientId);
    assert.match(event!.actor, /^admin:/);
    assert.equal(event!.details?.client_name, 'Ledgerly Sync');
    assert.equal(event!.details?.status, 'pending');
    const serialized = JSON.stringify(events);
    assert.ok(!serialized.includes(clientSecret!), 'no secret in the audit log');
    assert.ok(!serialized.includes(client.secretDigest!), 'not even its digest');
  }));

  it('records nothing for a refused registration', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, scopes: ['nope:nope'] }), 'scope');
    assert.deepEqual(await context.storage.audit.list(), []);
    assert.deepEqual(await context.storage.clients.list(), []);
  }));
});

describe('internationalized redirect URIs at /oauth/authorize (SPEC decision 4: exact string match)', () => {
  it('redirects to the stored ASCII form and refuses the Unicode spelling with an error page, never redirecting', async () => {
    const server = await startTestServer();
    try {
      const { client } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { ...confidential, redirectUris: ['https://b\u00FCcher.example/oauth/callback'] },
        { clientSecret: 'idn-client-secret-0123456789abcdefghijklmnopq' },
      );
      const { redirect } = await authorize(server, { clientId: client.clientId, redirectUri: 'https://xn--bcher-kva.example/oauth/callback', scope: 'users:read' });
      assert.equal(redirect.origin + redirect.pathname, 'https://xn--bcher-kva.example/oauth/callback');
      assert.ok(redirect.searchParams.get('code'));

      const page = await new Browser().get(authorizeUrl(server, {
        response_type: 'code', client_id: client.clientId, redirect_uri: 'https://b\u00FCcher.example/oauth/callback', scope: 'users:read',
        state: 'state-123', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
      }));
      assert.equal(page.status, 400);
      assert.equal(page.location, undefined, 'no redirect to an unregistered spelling');
      assert.match(page.text, /redirect_uri is not registered/);
    } finally {
      await server.close();
    }
  });
});

describe('internationalized hosts and look-alike names on both backends', async () => {
  const backends: [string, () => Promise<Storage>, string | false][] = [
    ['SQLite', async () => createSqliteStorage(':memory:'), false],
    ['PostgreSQL', () => createTestPostgresStorage(), await postgresSkipReason()],
  ];
  for (const [backend, open, skip] of backends) {
    it(`stores the ASCII form of an internationalized redirect URI and refuses a look-alike name, storing nothing (${backend})`, { skip }, async () => {
      const storage = await open();
      try {
        const context = { storage, environment: 'staging' as const, brandName: 'Gatehouse', now: NOW };
        const { client } = await registerClient(context, { ...confidential, redirectUris: ['https://b\u00FCcher.example/cb?x=a%20b'] });
        assert.deepEqual((await storage.clients.find(client.clientId))?.redirectUris, ['https://xn--bcher-kva.example/cb?x=a%20b']);
        await refusal(registerClient(context, { ...confidential, clientName: 'G\u0430t\u0435house Sync' }), 'client_name');
        await refusal(registerClient(context, { ...confidential, redirectUris: ['https://p\u0430ypal.example/cb'] }), 'redirect_uris', 'invalid_redirect_uri');
        assert.deepEqual((await storage.clients.list()).map((stored) => stored.clientId), [client.clientId]);
      } finally {
        await storage.close();
      }
    });

    it(`refuses a client name or contact holding a control character, which PostgreSQL text cannot hold as NUL: a field error, not a 500 (${backend})`, { skip }, async () => {
      const storage = await open();
      try {
        const context = { storage, environment: 'development' as const, brandName: 'Gatehouse', now: NOW };
        for (const name of ['Ledgerly\u0000Sync', 'Ledgerly\u0001Sync', 'Ledgerly\u007FSync']) {
          const refused = await refusal(registerClient(context, { ...confidential, clientName: name }), 'client_name');
          assert.match(refused.message, /must not contain control characters/);
        }
        for (const contact of ['ops\u0000@ledgerly.example', 'o\u0001ps@ledgerly.example']) {
          const refused = await refusal(registerClient(context, { ...confidential, contacts: [contact] }), 'contacts');
          assert.match(refused.message, /is not an e-mail address/);
        }
        assert.deepEqual(await storage.clients.list(), []);
      } finally {
        await storage.close();
      }
    });
  }
});
