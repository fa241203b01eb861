/**
 * The processes the benchmark starts (bench/authorization-server.ts forks this file with one role):
 *
 * - `gatehouse-sqlite`, `gatehouse-postgres`: the real authorization server (createAuthorizationServer)
 *   on 127.0.0.1, its storage as configured in production code.
 * - `oidc-provider`: the peer, configured as close to Gatehouse as it allows.
 * - `oidc-provider-postgres`: the same peer on a durable store, bench/oidc-postgres-adapter.ts, in a fresh
 *   schema of the benchmark's PostgreSQL (created when the role starts; the benchmark drops it).
 * - `floor-json`, `floor-sqlite-full`, `floor-sqlite-normal`: this machine's floors — a bare Fastify
 *   route answering a small JSON POST, and the same route doing one SQLite insert (WAL) per request.
 * - `seed-sqlite`: a short-lived process that seeds a Gatehouse SQLite file and exits.
 *
 * Every role answers the same IPC commands: `usage` (process.cpuUsage, peak RSS), `reset-peak` (resets
 * VmHWM through /proc/self/clear_refs), `profile-start` / `profile-stop` (the V8 CPU profiler that
 * `node --cpu-prof` drives, here around one phase only), and `shutdown`. Roles add their own.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { DatabaseSync } from 'node:sqlite';
import Fastify from 'fastify';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type pg from 'pg';
import { createAuthorizationServer } from '../packages/authorization-server/src/authorization-server.ts';
import { createPostgresStorage } from '../packages/authorization-server/src/storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts';
import type { LoginDelayRule, Storage } from '../packages/authorization-server/src/storage/storage.ts';
import { freePort } from '../packages/authorization-server/src/testing/harness.ts';
import { seedDevelopmentData, DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';
import { createOpaqueTokenCodec } from '../packages/authorization-server/src/tokens/opaque-token.ts';
import { API_AUDIENCE, BENCH_SCOPE, SEEDED_GRANTS_USER, OIDC_ACCOUNT, OIDC_CLIENT } from './config.ts';
import { seedFlowUsers } from './flow-users.ts';
import { prepareDatabase, seedCodes, seedGrants } from './gatehouse-sqlite-seed.ts';
import { createUnboundedMemoryAdapter, createUnboundedMemoryStore } from './oidc-memory-adapter.ts';
import { createOidcPostgresAdapter, createOidcPostgresSchema, type OidcRow } from './oidc-postgres-adapter.ts';

export type Role =
  | 'gatehouse-sqlite' | 'gatehouse-postgres' | 'oidc-provider'
  | 'floor-json' | 'floor-sqlite-full' | 'floor-sqlite-normal' | 'seed-sqlite' | 'seed-postgres'
  | 'oidc-provider-postgres';

export interface RoleArguments {
  /** SQLite file (Gatehouse and the SQLite floor). */
  databasePath?: string;
  /** base64url HMAC key of Gatehouse codes and tokens. */
  tokenKey?: string;
  /** PostgreSQL connection string and schema. */
  postgresUrl?: string;
  postgresSchema?: string;
}

type Handler = (args: any) => Promise<unknown> | unknown;

async function main(): Promise<void> {
  const role = process.argv[2] as Role;
  const args = JSON.parse(process.argv[3] ?? '{}') as RoleArguments;
  const handlers: Record<string, Handler> = { ...commonHandlers() };
  let url = '';
  let close: () => Promise<void> = async () => {};

  switch (role) {
    case 'seed-sqlite':
      Object.assign(handlers, {
        prepare: () => prepareDatabase(args.databasePath!),
        'seed-codes': ({ count }: { count: number }) => seedCodes(args.databasePath!, Buffer.from(args.tokenKey!, 'base64url'), count),
        'seed-grants': ({ total, poolSize }: { total: number; poolSize: number }) =>
          seedGrants(args.databasePath!, Buffer.from(args.tokenKey!, 'base64url'), total, poolSize),
      });
      break;
    case 'seed-postgres': {
      // The PostgreSQL schema is the backend's own: seed through the storage contract (codes are independent rows).
      let storage: Storage | undefined;
      const open = async () => (storage ??= await openPostgresStorage(args));
      close = async () => {
        await storage?.close();
      };
      Object.assign(handlers, {
        prepare: async () => {
          const now = Math.floor(Date.now() / 1000);
          await seedDevelopmentData(await open(), { brandName: 'Gatehouse', now, apiAudience: API_AUDIENCE });
          await seedFlowUsers(await open(), now);
          return true;
        },
        'seed-codes': async ({ count }: { count: number }) => seedCodesThroughStorage(await open(), Buffer.from(args.tokenKey!, 'base64url'), count),
        drop: async () => dropPostgresSchema(args),
      });
      break;
    }
    case 'gatehouse-sqlite':
    case 'gatehouse-postgres': {
      const storage = role === 'gatehouse-sqlite' ? createSqliteStorage(args.databasePath!) : await openPostgresStorage(args);
      const started = await startGatehouse(storage, Buffer.from(args.tokenKey!, 'base64url'));
      url = started.url;
      close = started.close;
      Object.assign(handlers, started.handlers);
      break;
    }
    case 'oidc-provider':
    case 'oidc-provider-postgres': {
      const started = await startOidcProvider(role === 'oidc-provider-postgres' ? { url: args.postgresUrl!, schema: args.postgresSchema! } : undefined);
      url = started.url;
      close = started.close;
      Object.assign(handlers, started.handlers);
      break;
    }
    case 'floor-json':
    case 'floor-sqlite-full':
    case 'floor-sqlite-normal': {
      const started = await startFloor(role, args.databasePath);
      url = started.url;
      close = started.close;
      break;
    }
    default:
      throw new Error(`unknown role ${role}`);
  }

  handlers.shutdown = async () => {
    await close();
    setImmediate(() => process.exit(0));
    return true;
  };
  process.on('message', async (message: { id: number; command: string; args?: unknown }) => {
    const handler = handlers[message.command];
    try {
      if (!handler) throw new Error(`unknown command ${message.command} for ${role}`);
      const result = await handler(message.args ?? {});
      process.send!({ id: message.id, ok: true, result });
    } catch (error) {
      process.send!({ id: message.id, ok: false, error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, url });
}

function commonHandlers(): Record<string, Handler> {
  let profiler: Session | undefined;
  return {
    usage: () => {
      const cpu = process.cpuUsage();
      return { cpuMicros: cpu.user + cpu.system, maxRssKiB: process.resourceUsage().maxRSS, hwmKiB: statusKiB('VmHWM'), rssKiB: statusKiB('VmRSS') };
    },
    // Writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current RSS (Linux).
    'reset-peak': () => {
      try {
        writeFileSync('/proc/self/clear_refs', '5');
        return true;
      } catch {
        return false;
      }
    },
    'profile-start': async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
      await profiler.post('Profiler.start');
      return true;
    },
    'profile-stop': async ({ path }: { path: string }) => {
      if (!profiler) return false;
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(path, JSON.stringify(profile));
      profiler.disconnect();
      profiler = undefined;
      return path;
    },
  };
}

function statusKiB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : 0;
}

/** Codes as seedCodes makes them, through `storage.authorizationCodes.create`, 32 at a time. */
async function seedCodesThroughStorage(storage: Storage, tokenKey: Buffer, count: number) {
  const codec = createOpaqueTokenCodec(tokenKey);
  const now = Math.floor(Date.now() / 1000);
  const client = DEVELOPMENT_SEED.confidentialClient;
  const codes: { code: string; verifier: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const code = codec.mint('gac');
      const verifier = randomBytes(32).toString('base64url');
      await storage.authorizationCodes.create({
        codeDigest: code.digest, clientId: client.id, userId: SEEDED_GRANTS_USER.id, redirectUri: client.redirectUri, scope: BENCH_SCOPE.split(' '),
        subjectType: 'company', subjectId: randomUUID(), codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
        issuedAt: now, expiresAt: now + 600,
      });
      codes.push({ code: code.value, verifier });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return codes;
}

async function dropPostgresSchema(args: RoleArguments): Promise<boolean> {
  if (!args.postgresSchema || !/^bench_[a-z0-9_]+$/.test(args.postgresSchema)) throw new Error('refusing to drop a schema the benchmark did not name');
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: args.postgresUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${args.postgresSchema} CASCADE`);
  } finally {
    await client.end();
  }
  return true;
}

async function openPostgresStorage(args: RoleArguments): Promise<Storage> {
  // The pool size is the backend's default (10): the benchmark measures Gatehouse as configured by default.
  return createPostgresStorage(args.postgresUrl!, { schema: args.postgresSchema });
}

/** A login-throttle rule (storage.ts `LoginDelayRule`) no run reaches: the failures are still counted on every attempt. */
const NEVER_THROTTLED: LoginDelayRule = { freeFailures: 1_000_000_000, baseDelaySeconds: 1, maxDelaySeconds: 1, forgetAfterSeconds: 3600 };

/** Gatehouse exactly as production code builds it, with the benchmark's settings (see bench/README.md). */
async function startGatehouse(storage: Storage, tokenKey: Buffer) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const app = await createAuthorizationServer({
    issuer,
    environment: 'development',
    storage,
    accessTokenAudience: API_AUDIENCE,
    tokenHmacKey: tokenKey,
    // BENCH_SERVER_LOG=1 logs every request into the role's log file (for diagnosing errors, not for figures).
    logger: process.env.BENCH_SERVER_LOG === '1',
    // Seeded codes stay valid through their phase (the configurable maximum, SPEC decision 6).
    authorizationCodeLifetimeSeconds: 600,
    // All load comes from 127.0.0.1 as one account, and the throttle counts an attempt as failed until its
    // password check ends (endpoints/login-throttle.ts): 32 logins in flight trip the account rule (20
    // free failures) and the account-and-address rule (5), and a long run the address rule (100), each
    // answering 429. An operator lifts the rules the same way (each rule given replaces its default).
    loginThrottle: { accountAddress: NEVER_THROTTLED, account: NEVER_THROTTLED, address: NEVER_THROTTLED },
    // The same for the token, introspection and revocation limits (thousands of requests a second from one
    // client at one address): still counted on every request, as in production, but never reached.
    oauthEndpointRateLimit: { windowSeconds: 10, maxRequestsPerClient: 1_000_000_000, maxRequestsPerAddress: 1_000_000_000 },
    // The per-address connection ceiling (100 by default) is reached by the benchmark's own connections, all
    // from 127.0.0.1: the setup's idle keep-alive fetch connections (one per flow login, closed only by the
    // 5 s keep-alive timeout), a phase's 32 and the warm-up's 32 before the server has seen them closed.
    // Past it the server resets new connections at once (ECONNRESET). Still counted, as in production, never reached.
    connectionLimits: { maxConnectionsPerAddress: 10_000 },
  });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: issuer,
    handlers: {} as Record<string, Handler>,
    async close() {
      await app.close();
      await storage.close();
    },
  };
}

/**
 * oidc-provider 9 as close to Gatehouse as it allows: authorization code with PKCE S256 required,
 * client_secret_basic, refresh tokens rotated on every use, opaque access tokens for one resource
 * server (RFC 8707) with Gatehouse's scopes, introspection, no `openid` (so no ID token is signed), and
 * an in-memory store (its own adapter logic without the LRU size limit) — or, given `postgres`, the
 * durable PostgreSQL adapter (bench/oidc-postgres-adapter.ts) in a schema it creates, through a pool of
 * 10 connections (the pool size Gatehouse's PostgreSQL storage uses by default).
 */
async function startOidcProvider(postgres?: { url: string; schema: string }) {
  const { default: Provider } = await import('oidc-provider');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const store = createUnboundedMemoryStore();
  // The last code and grant a real flow stored: the templates the seeded codes copy.
  const templates: { code?: Record<string, unknown>; grants: Map<string, Record<string, unknown>> } = { grants: new Map() };
  let onUpsert: ((model: string, id: string, payload: AdapterPayload) => void) | undefined = (model, id, payload) => {
    if (model === 'AuthorizationCode') templates.code = { ...payload };
    if (model === 'Grant') templates.grants.set(id, { ...payload });
  };
  store.onUpsert = (model, id, payload) => onUpsert?.(model, id, payload);
  let pool: pg.Pool | undefined;
  let durable: ReturnType<typeof createOidcPostgresAdapter> | undefined;
  let adapter: (model: string) => Adapter;
  if (postgres) {
    const { default: postgresClient } = await import('pg');
    pool = new postgresClient.Pool({ connectionString: postgres.url, max: 10 });
    await createOidcPostgresSchema(pool, postgres.schema);
    const base = createOidcPostgresAdapter(pool, postgres.schema);
    durable = base;
    adapter = (model) => {
      const modelAdapter = base(model);
      return {
        ...modelAdapter,
        async upsert(id, payload, expiresIn) {
          await modelAdapter.upsert(id, payload, expiresIn);
          onUpsert?.(model, id, payload);
        },
      };
    };
  } else {
    adapter = createUnboundedMemoryAdapter(store);
  }
  const provider = new Provider(issuer, {
    adapter,
    clients: [{
      client_id: OIDC_CLIENT.id,
      client_secret: OIDC_CLIENT.secret,
      redirect_uris: [OIDC_CLIENT.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    rotateRefreshToken: () => true,
    clientBasedCORS: () => false,
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    scopes: ['openid', 'offline_access'],
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: BENCH_SCOPE, audience: API_AUDIENCE, accessTokenTTL: 900, accessTokenFormat: 'opaque' }),
      },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: 900, AuthorizationCode: 600, RefreshToken: 60 * 24 * 60 * 60, Grant: 60 * 24 * 60 * 60, Session: 8 * 60 * 60, Interaction: 600 },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
  });
  const callback = provider.callback();

  // The auto-consent interaction: logs in the account the authorization request names in `login_hint`
  // (the benchmark's own account when none) when asked, grants what is missing. Counted by prompt, so the
  // benchmark can check that its flows consent and never log in (the work of Gatehouse's flow).
  const prompts = new Map<string, number>();
  const interaction = async (request: IncomingMessage, response: ServerResponse) => {
    const details = await provider.interactionDetails(request, response);
    prompts.set(details.prompt.name, (prompts.get(details.prompt.name) ?? 0) + 1);
    if (details.prompt.name === 'login') {
      const accountId = typeof details.params.login_hint === 'string' ? details.params.login_hint : OIDC_ACCOUNT;
      await provider.interactionFinished(request, response, { login: { accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    const missing = details.prompt.details;
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined)
      ?? new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
    if (missing.missingOIDCScope) grant.addOIDCScope((missing.missingOIDCScope as string[]).join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims as string[]);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes as Record<string, string[]>)) grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(request, response, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  };
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/interaction/')) {
      interaction(request, response).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
      return;
    }
    callback(request, response);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    url: issuer,
    handlers: {
      /** Codes like the one the last real flow stored, each with its own copy of that flow's grant. */
      'seed-codes': async ({ count }: { count: number }) => {
        const code = templates.code;
        const grant = code && templates.grants.get(String(code.grantId));
        if (!code || !grant) throw new Error('no template: run one real authorization flow first');
        const now = Math.floor(Date.now() / 1000);
        const codes: { code: string; verifier: string }[] = [];
        const grants = adapter('Grant');
        const authorizationCodes = adapter('AuthorizationCode');
        onUpsert = undefined;
        // PostgreSQL: 1,000 rows per statement instead of one commit per row.
        const batch: OidcRow[] = [];
        for (let i = 0; i < count; i++) {
          const grantId = randomUUID();
          const grantPayload = { ...structuredClone(grant), jti: grantId, iat: now, exp: now + 60 * 24 * 60 * 60 };
          const value = randomBytes(32).toString('base64url');
          const verifier = randomBytes(32).toString('base64url');
          const codeChallenge = createHash('sha256').update(verifier).digest('base64url');
          const codePayload = { ...structuredClone(code), jti: value, grantId, codeChallenge, iat: now, exp: now + 600, consumed: undefined };
          if (durable) {
            batch.push({ model: 'Grant', id: grantId, payload: grantPayload, expiresIn: 60 * 24 * 60 * 60 }, { model: 'AuthorizationCode', id: value, payload: codePayload, expiresIn: 600 });
            if (batch.length >= 1_000) await durable.upsertMany(batch.splice(0));
          } else {
            await grants.upsert(grantId, grantPayload, 60 * 24 * 60 * 60);
            await authorizationCodes.upsert(value, codePayload, 600);
          }
          codes.push({ code: value, verifier });
        }
        await durable?.upsertMany(batch);
        return codes;
      },
      'store-size': () => store.entries.size,
      /** Interactions answered so far, by prompt (`login`, `consent`). */
      interactions: () => Object.fromEntries(prompts),
    } as Record<string, Handler>,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool?.end();
    },
  };
}

/** The floors: Fastify with a small JSON POST route, optionally doing one SQLite insert per request. */
async function startFloor(role: 'floor-json' | 'floor-sqlite-full' | 'floor-sqlite-normal', databasePath: string | undefined) {
  const app = Fastify({ logger: false });
  let db: DatabaseSync | undefined;
  if (role === 'floor-json') {
    app.post('/items', async (request) => ({ ok: true, name: (request.body as { name?: string }).name }));
  } else {
    db = new DatabaseSync(databasePath!);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${role === 'floor-sqlite-full' ? 'FULL' : 'NORMAL'}`);
    db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL)');
    const insert = db.prepare('INSERT INTO items (body, created_at) VALUES (?, ?)');
    app.post('/items', async (request) => {
      const result = insert.run(JSON.stringify(request.body), Date.now());
      return { ok: true, id: Number(result.lastInsertRowid) };
    });
  }
  const port = await freePort();
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      db?.close();
    },
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
