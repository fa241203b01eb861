/**
 * The admin API (issue 3: "approves, suspends, reactivates and deletes clients, grants a PKCE exception to
 * a confidential client, and sees everything"), JSON under `/admin/v1`, for platform administrators.
 *
 * - Authentication: `Authorization: Bearer <administrator token>` (RFC 6750 §2.1; tokens from
 *   `gatehouse admins create-token`, stored as SHA-256 digests). Without one: 401 with
 *   `WWW-Authenticate: Bearer realm="gatehouse-admin"`; with an unknown one: 401 `error="invalid_token"`
 *   (RFC 6750 §3). No cookies are involved, so no CSRF exposure.
 * - Transport: outside development the server refuses anything not received over TLS (SPEC decision 17).
 * - Bodies: `application/json` only (`image/*` at the logo route); any other type is 415 `invalid_request`
 *   before the body is read, and before authentication (http/media-types.ts).
 * - Members use RFC 7591 names; refusals are RFC 7591 §3.2.2 errors (`invalid_client_metadata`,
 *   `invalid_redirect_uri`) with a `field` member naming what was refused.
 * - Every change goes through clients/client-management.ts, audited as `admin:<name>`.
 * - The OpenAPI document is generated from these routes' schemas by @fastify/swagger, registered inside
 *   this encapsulated plugin so that it documents the admin routes only: `GET /admin/v1/openapi.json`.
 */
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clientToJson } from '../clients/client-json.ts';
import {
  approveClient, ClientManagementError, deleteClient, findManagedClient, LOGO_MAX_BYTES, MAX_SECRET_OVERLAP_SECONDS, reactivateClient, rejectBrandingChange, rotateClientSecret, setClientLogo,
  setPkceException, suspendClient, updateClient, type ClientMetadataChanges, type ManagementContext,
} from '../clients/client-management.ts';
import { setPushedAuthorizationRequestsRequired } from '../clients/client-management.ts';
import { setDpopBoundAccessTokens } from '../clients/client-management.ts';
import { registerClient, RegistrationError } from '../clients/registration.ts';
import { revokeGrantBy } from '../grants/grant-revocation.ts';
import type { ServerContext } from '../server-context.ts';
import { formatSubjectUrn, isUuid } from '@gatehouse/protocol';
import type { AdminCredentialRecord, GrantListing, GrantRecord, SubjectType } from '../storage/storage.ts';
import { authenticateAdministrator } from './admin-credentials.ts';
import { directoryApi } from './directory-api.ts';
import { webhookApi } from './webhook-api.ts';
import { apiKeyApi } from './api-key-api.ts';
import { sendStorageUnavailableJson } from '../http/storage-unavailable-response.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';

export const ADMIN_API_PREFIX = '/admin/v1';

const nullableUri = { type: ['string', 'null'], maxLength: 2000 } as const;
const METADATA_PROPERTIES = {
  client_name: { type: 'string', maxLength: 200, description: 'Shown to users; must not use the platform brand' },
  redirect_uris: { type: 'array', items: { type: 'string', maxLength: 2000 }, maxItems: 20, description: 'Exact strings (SPEC decision 4)' },
  scope: { type: 'string', maxLength: 2000, description: 'Space-separated scopes from the catalogue' },
  subject_type: { type: ['string', 'null'], enum: ['company', 'organization', null], description: 'Subject type preference; null = company' },
  client_uri: nullableUri, tos_uri: nullableUri, policy_uri: nullableUri, initiation_uri: nullableUri, settings_uri: nullableUri,
  contacts: { type: 'array', items: { type: 'string', maxLength: 254 }, maxItems: 10, description: 'E-mail addresses' },
  // Issue 13 (Marketplace): shown in the marketplace; null or '' clears. Validated with the other metadata (field errors name them).
  description: { type: ['string', 'null'], maxLength: 2000, description: 'Marketplace description: plain text, at most 500 characters' },
  category: { type: ['string', 'null'], maxLength: 50, description: 'Marketplace category: accounting, payroll, crm, reporting, e-commerce or other' },
} as const;

const CLIENT_SCHEMA = {
  type: 'object',
  properties: {
    client_id: { type: 'string', format: 'uuid' },
    client_name: { type: 'string' },
    token_endpoint_auth_method: { type: 'string', enum: ['client_secret_basic', 'none'] },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    scope: { type: 'string' },
    subject_type: { type: ['string', 'null'] },
    pkce_required: { type: 'boolean' },
    client_uri: { type: ['string', 'null'] }, logo_uri: { type: ['string', 'null'] }, tos_uri: { type: ['string', 'null'] },
    policy_uri: { type: ['string', 'null'] }, initiation_uri: { type: ['string', 'null'] }, settings_uri: { type: ['string', 'null'] },
    contacts: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: ['active', 'pending', 'suspended', 'deleted'] },
    branding_verified: { type: 'boolean' },
    client_id_issued_at: { type: 'integer', description: 'Seconds since the epoch' },
    owner_user_id: { type: ['string', 'null'] },
    previous_secret_expires_at: { type: ['integer', 'null'], description: 'Seconds since the epoch; the previous secret works until then' },
    require_pushed_authorization_requests: { type: 'boolean', description: 'RFC 9126 §6: authorization requests only through /oauth/par' },
    dpop_bound_access_tokens: { type: 'boolean', description: 'RFC 9449 §5.2: every token request must carry a DPoP proof' },
    description: { type: ['string', 'null'], description: 'Issue 13: the marketplace description, or null' },
    category: { type: ['string', 'null'], description: 'Issue 13: the marketplace category, or null' },
    client_secret: { type: 'string', description: 'Only in the response that issues it (registration, rotation): shown once' },
    grants_revoked: { type: 'integer' },
  },
} as const;
const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' }, field: { type: 'string' } },
} as const;
const GRANT_SCHEMA = {
  type: 'object',
  properties: {
    grant_id: { type: 'string', format: 'uuid' },
    client_id: { type: 'string' },
    user_id: { type: 'string', description: 'Who consented' },
    subject_type: { type: 'string', enum: ['company', 'organization'] },
    subject_id: { type: 'string' },
    subject_urn: { type: 'string' },
    scope: { type: 'string' },
    created_at: { type: 'integer', description: 'Seconds since the epoch' },
    last_token_used_at: { type: ['integer', 'null'], description: 'Seconds since the epoch: the last token use (the latest of a token issued, by the first exchange or a refresh, and an access token introspected as active, recorded at most once a minute per grant), as the connected apps page shows it' },
    revoked_at: { type: ['integer', 'null'], description: 'Seconds since the epoch' },
  },
} as const;
const CLIENT_ID_PARAMS = { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string', maxLength: 100 } } } as const;
const errors = { 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA };
const security = [{ administratorToken: [] }];

type Body = Record<string, unknown>;

/** Registers the admin API under ADMIN_API_PREFIX (call with `app.register(adminApi(context), { prefix })`). */
export function adminApi(context: ServerContext) {
  return async function adminApiPlugin(app: FastifyInstance): Promise<void> {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: `${context.options.brand.name} admin API`, version: '1', description: 'Client administration: RFC 7591 member names; bearer administrator tokens.' },
        servers: [{ url: context.options.issuer }],
        components: { securitySchemes: { administratorToken: { type: 'http', scheme: 'bearer', description: '`gatehouse admins create-token --name NAME`' } } },
      },
    });
    const administrators = new WeakMap<FastifyRequest, AdminCredentialRecord>();

    // A logo arrives as its raw bytes (`Content-Type: image/png` etc.); its type is read from the bytes, not this header.
    app.addContentTypeParser(/^image\/[a-z0-9.+-]+$/, { parseAs: 'buffer', bodyLimit: LOGO_MAX_BYTES + 1 }, (_request, body, done) => done(null, body));

    app.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (request.routeOptions.url === `${ADMIN_API_PREFIX}/openapi.json`) return;
      const header = request.headers.authorization;
      const administrator = await authenticateAdministrator(context.storage, header);
      if (!administrator) {
        // RFC 6750 §3: no error code when the request had no credentials; invalid_token when they were wrong.
        reply.code(401).header('www-authenticate', header ? 'Bearer realm="gatehouse-admin", error="invalid_token"' : 'Bearer realm="gatehouse-admin"')
          .send({ error: header ? 'invalid_token' : 'unauthorized', error_description: 'an administrator bearer token is required' });
        return reply;
      }
      administrators.set(request, administrator);
    });

    app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown; code?: string }, request, reply) => {
      if (error instanceof RegistrationError) {
        reply.code(400).send({ error: error.error, error_description: error.message, field: error.field });
        return;
      }
      if (error instanceof ClientManagementError) {
        reply.code(error.reason === 'not_found' ? 404 : 409).send({ error: error.reason, error_description: error.message });
        return;
      }
      if (error.validation) {
        // The field the schema refused: the property it is in, or the one missing.
        const [first] = error.validation as { instancePath?: string; params?: { missingProperty?: string; additionalProperty?: string } }[];
        const field = first?.params?.missingProperty ?? first?.params?.additionalProperty ?? first?.instancePath?.split('/')[1];
        // RFC 7591 §3.2.2 for a client's metadata (README "the admin API"), as the registration rules answer.
        const route = `${request.method} ${request.routeOptions.url ?? ''}`;
        const clientMetadata = route === `POST ${ADMIN_API_PREFIX}/clients` || route === `PATCH ${ADMIN_API_PREFIX}/clients/:client_id`;
        if (clientMetadata && (error as { validationContext?: string }).validationContext === 'body' && field) {
          reply.code(400).send({ error: field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata', error_description: error.message, field });
          return;
        }
        reply.code(400).send({ error: 'invalid_request', error_description: error.message, ...(field ? { field } : {}) });
        return;
      }
      if (error.statusCode && error.statusCode < 500) {
        reply.code(error.statusCode).send({ error: 'invalid_request', error_description: error.statusCode === 413 ? `the body is too large (at most ${LOGO_MAX_BYTES} bytes for a logo)` : 'the request could not be read' });
        return;
      }
      // SPEC decision 18: an unreachable storage is 503 temporarily_unavailable with Retry-After.
      if (isStorageUnavailable(error)) {
        sendStorageUnavailableJson(reply);
        return;
      }
      request.log.error({ err: error }, 'unexpected error in the admin API');
      reply.code(500).send({ error: 'server_error', error_description: 'unexpected error' });
    });

    const management = (request: FastifyRequest): ManagementContext => ({
      storage: context.storage, environment: context.options.environment, brandName: context.options.brand.name,
      now: context.clock.nowSeconds(), actor: `admin:${administrators.get(request)!.name}`, requireApproval: context.options.requireClientApproval,
      urnNamespace: context.options.brand.urnNamespace,
    });
    const clientId = (request: FastifyRequest) => (request.params as { client_id: string }).client_id;

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    app.get('/clients', {
      schema: { summary: 'List every client (all partners, every status)', security, response: { 200: { type: 'array', items: CLIENT_SCHEMA }, 401: ERROR_SCHEMA } },
    }, async () => (await context.storage.clients.list()).filter((client) => client.kind === 'client').map(clientToJson));

    app.post('/clients', {
      schema: {
        summary: 'Register a client (RFC 7591 metadata); the secret is in this response only',
        security,
        body: {
          type: 'object', required: ['client_name', 'redirect_uris', 'scope', 'token_endpoint_auth_method'],
          properties: {
            ...METADATA_PROPERTIES,
            token_endpoint_auth_method: { type: 'string', enum: ['client_secret_basic', 'none'], description: 'client_secret_basic = confidential, none = public' },
            pkce_required: { type: 'boolean', description: 'false grants a confidential client a PKCE exception' },
            require_pushed_authorization_requests: { type: 'boolean', description: 'RFC 9126 §6: authorization requests only through /oauth/par (default false)' },
            dpop_bound_access_tokens: { type: 'boolean', description: 'RFC 9449 §5.2: every token request must carry a DPoP proof (default false)' },
            client_secret: { description: 'Refused: secrets are issued by the server' },
          },
        },
        response: { 201: CLIENT_SCHEMA, ...errors },
      },
    }, async (request, reply) => {
      const body = request.body as Body;
      // SPEC decision 9: secrets are server-generated; nobody (least of all a public client) brings one.
      if (body.client_secret !== undefined) throw new RegistrationError('client_secret', 'is issued by the server, never chosen by the client');
      const changes = metadataChanges(body);
      const { client, clientSecret } = await registerClient(management(request), {
        clientName: changes.clientName!, clientType: body.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
        redirectUris: changes.redirectUris!, scopes: changes.scopes!, subjectType: changes.subjectType ?? null,
        pkceRequired: body.pkce_required as boolean | undefined, clientUri: changes.clientUri ?? null, tosUri: changes.tosUri ?? null,
        policyUri: changes.policyUri ?? null, initiationUri: changes.initiationUri ?? null, settingsUri: changes.settingsUri ?? null,
        contacts: changes.contacts ?? [], description: changes.description ?? null, category: changes.category ?? null,
        requirePushedAuthorizationRequests: body.require_pushed_authorization_requests as boolean | undefined,
        dpopBoundAccessTokens: body.dpop_bound_access_tokens as boolean | undefined,
      }, {}, { actor: management(request).actor });
      reply.code(201).send({ ...clientToJson(client), ...(clientSecret ? { client_secret: clientSecret } : {}) });
    });

    app.get('/clients/:client_id', {
      schema: { summary: 'Show a client', security, params: CLIENT_ID_PARAMS, response: { 200: CLIENT_SCHEMA, ...errors } },
    }, async (request) => clientToJson(await findManagedClient(context.storage, clientId(request))));

    app.patch('/clients/:client_id', {
      schema: {
        summary: 'Change client metadata (absent members stay; null clears a URI); validated like a registration',
        security, params: CLIENT_ID_PARAMS,
        body: {
          type: 'object',
          properties: {
            ...METADATA_PROPERTIES, client_secret: { description: 'Refused: rotate the secret instead' },
            require_pushed_authorization_requests: { type: 'boolean', description: 'RFC 9126 §6: authorization requests only through /oauth/par' },
            dpop_bound_access_tokens: { type: 'boolean', description: 'RFC 9449 §5.2: every token request must carry a DPoP proof' },
          },
        },
        response: { 200: CLIENT_SCHEMA, ...errors },
      },
    }, async (request) => {
      const body = request.body as Body;
      if (body.client_secret !== undefined) throw new RegistrationError('client_secret', 'cannot be set; rotate the secret instead');
      const updated = await updateClient(management(request), clientId(request), metadataChanges(body));
      const requirePar = body.require_pushed_authorization_requests;
      const withPar = typeof requirePar === 'boolean' ? await setPushedAuthorizationRequestsRequired(management(request), updated.clientId, requirePar) : updated;
      const dpopBound = body.dpop_bound_access_tokens;
      return clientToJson(typeof dpopBound === 'boolean' ? await setDpopBoundAccessTokens(management(request), updated.clientId, dpopBound) : withPar);
    });

    const transition = (path: string, summary: string, step: (context: ManagementContext, id: string) => Promise<unknown>) =>
      app.post(`/clients/:client_id/${path}`, { schema: { summary, security, params: CLIENT_ID_PARAMS, response: { 200: CLIENT_SCHEMA, ...errors } } },
        async (request) => {
          await step(management(request), clientId(request));
          return clientToJson((await context.storage.clients.find(clientId(request)))!);
        });
    transition('approve', 'Approve a pending client (and its branding): it becomes active', approveClient);
    transition('suspend', 'Suspend a client: its flows, code redemptions, refreshes and access tokens stop at once', suspendClient);
    transition('reactivate', 'Reactivate a suspended client', reactivateClient);
    transition('reject-branding', 'Reject a partner\'s branding change: the reviewed name, logo and URIs come back (issue 13)', rejectBrandingChange);

    app.delete('/clients/:client_id', {
      schema: { summary: 'Delete a client for good, revoking every grant and token of it', security, params: CLIENT_ID_PARAMS, response: { 200: CLIENT_SCHEMA, ...errors } },
    }, async (request) => {
      const { client, grantsRevoked } = await deleteClient(management(request), clientId(request));
      return { ...clientToJson(client), grants_revoked: grantsRevoked };
    });

    app.put('/clients/:client_id/pkce-exception', {
      schema: {
        summary: 'Grant (true) or remove (false) a confidential client\'s PKCE exception (SPEC decision 2)', security, params: CLIENT_ID_PARAMS,
        body: { type: 'object', required: ['granted'], additionalProperties: false, properties: { granted: { type: 'boolean' } } },
        response: { 200: CLIENT_SCHEMA, ...errors },
      },
    }, async (request) => clientToJson(await setPkceException(management(request), clientId(request), (request.body as { granted: boolean }).granted)));

    app.post('/clients/:client_id/secret', {
      schema: {
        summary: 'Rotate the client secret (SPEC decision 10); the new secret is in this response only', security, params: CLIENT_ID_PARAMS,
        body: {
          // An unknown member is refused: a misspelt overlap_seconds would otherwise end the old secret at once.
          type: ['object', 'null'], additionalProperties: false,
          properties: {
            // SPEC decision 10's overlap, at most 30 days (client-management.ts): refused here as a negative one is, 400
            // invalid_request, not as RFC 7591 §3.2.2 invalid_client_metadata (a rotation body is no client metadata).
            overlap_seconds: { type: 'integer', minimum: 0, maximum: MAX_SECRET_OVERLAP_SECONDS, description: 'How long the previous secret keeps working, at most 30 days; default 0' },
            revoke_grants: { type: 'boolean', description: 'Revoke every grant of the client now; default false' },
          },
        },
        response: { 200: CLIENT_SCHEMA, ...errors },
      },
    }, async (request) => {
      const body = (request.body ?? {}) as { overlap_seconds?: number; revoke_grants?: boolean };
      const { client, clientSecret, grantsRevoked } = await rotateClientSecret(management(request), clientId(request), {
        overlapSeconds: body.overlap_seconds ?? 0, revokeGrants: body.revoke_grants ?? false,
      });
      return { ...clientToJson(client), client_secret: clientSecret, grants_revoked: grantsRevoked };
    });

    const grantJson = (grant: GrantRecord & Partial<Pick<GrantListing, 'lastUsedAt'>>) => ({
      grant_id: grant.grantId, client_id: grant.clientId, user_id: grant.userId, subject_type: grant.subjectType, subject_id: grant.subjectId,
      subject_urn: formatSubjectUrn(context.options.brand.urnNamespace, grant.subjectType, grant.subjectId), scope: grant.scope.join(' '),
      created_at: grant.createdAt, last_token_used_at: grant.lastUsedAt ?? null, revoked_at: grant.revokedAt,
    });

    app.get('/grants', {
      schema: {
        summary: 'List the active grants (connected apps) of one user (who consented) or one client; exactly one of user_id, client_id',
        security,
        querystring: { type: 'object', properties: { user_id: { type: 'string', maxLength: 100 }, client_id: { type: 'string', maxLength: 100 } } },
        response: { 200: { type: 'array', items: GRANT_SCHEMA }, ...errors },
      },
    }, async (request, reply) => {
      const query = request.query as { user_id?: string; client_id?: string };
      if ((query.user_id === undefined) === (query.client_id === undefined)) {
        return reply.code(400).send({ error: 'invalid_request', error_description: 'give exactly one of user_id and client_id' });
      }
      // Ids are lowercase UUIDs (the directory's rule): anything else is a mistake, not an empty list.
      const [field, id] = query.user_id !== undefined ? ['user_id', query.user_id] : ['client_id', query.client_id!];
      if (!isUuid(id.toLowerCase())) return reply.code(400).send({ error: 'invalid_request', error_description: `${field} must be a UUID`, field });
      const grants = await context.storage.grants.listActive(field === 'user_id' ? { userId: id.toLowerCase() } : { clientId: id.toLowerCase() });
      return grants.map(grantJson);
    });

    app.delete('/grants/:grant_id', {
      schema: {
        summary: 'Revoke a grant (disconnect the app) with every token of it, at once (SPEC decision 15); audit event grant.revoked',
        security, params: { type: 'object', required: ['grant_id'], properties: { grant_id: { type: 'string', maxLength: 100 } } },
        response: { 200: GRANT_SCHEMA, ...errors },
      },
    }, async (request, reply) => {
      const grantId = (request.params as { grant_id: string }).grant_id;
      const outcome = await revokeGrantBy(context.storage, grantId, context.clock.nowSeconds(), `admin:${administrators.get(request)!.name}`, 'admin_revoked', context.options.brand.urnNamespace);
      if (outcome === 'not_found') return reply.code(404).send({ error: 'not_found', error_description: 'no grant with that id' });
      if (outcome === 'already_revoked') return reply.code(409).send({ error: 'conflict', error_description: 'the grant was already revoked' });
      return grantJson((await context.storage.grants.find(grantId))!);
    });

    app.put('/clients/:client_id/logo', {
      schema: {
        summary: 'Upload the logo as the raw body (Content-Type image/png, image/jpeg or image/webp): square, at least 256×256, at most 1 MiB; SVG is refused',
        security, params: CLIENT_ID_PARAMS, response: { 200: CLIENT_SCHEMA, ...errors },
      },
    }, async (request) => {
      if (!Buffer.isBuffer(request.body)) throw new RegistrationError('logo', 'send the image bytes with Content-Type image/png, image/jpeg or image/webp');
      return clientToJson(await setClientLogo(management(request), context.options.issuer, clientId(request), request.body));
    });

    // The directory (issue 10 §1): organizations, companies, users, memberships, resource servers, developers.
    await app.register(directoryApi(context, (request) => administrators.get(request)!.name));
    // Issue 15 §5: partner webhooks (webhook-api.ts).
    await app.register(webhookApi(context, (request) => administrators.get(request)!.name));
    // Issue 16: API keys and the integrations that offer them (api-key-api.ts).
    await app.register(apiKeyApi(context, (request) => administrators.get(request)!.name));
  };
}

/** RFC 7591 members present in a body, as metadata changes (absent = unchanged). */
export function metadataChanges(body: Body): ClientMetadataChanges {
  const changes: ClientMetadataChanges = {};
  const text = (name: string) => body[name] as string | null | undefined;
  if (body.client_name !== undefined) changes.clientName = String(body.client_name);
  if (body.redirect_uris !== undefined) changes.redirectUris = body.redirect_uris as string[];
  if (body.scope !== undefined) changes.scopes = String(body.scope).split(/\s+/).filter(Boolean);
  if (body.subject_type !== undefined) changes.subjectType = body.subject_type as SubjectType | null;
  if (body.contacts !== undefined) changes.contacts = body.contacts as string[];
  const uris = { clientUri: text('client_uri'), tosUri: text('tos_uri'), policyUri: text('policy_uri'), initiationUri: text('initiation_uri'), settingsUri: text('settings_uri') };
  for (const [field, value] of Object.entries(uris)) if (value !== undefined) (changes as Record<string, unknown>)[field] = value === '' ? null : value;
  // Issue 13 (Marketplace): checked by validateClientMetadata (a category outside the list is a field error naming `category`).
  if (body.description !== undefined) changes.description = text('description') || null;
  if (body.category !== undefined) changes.category = (text('category') || null) as ClientMetadataChanges['category'];
  return changes;
}

