/**
 * Issue 16: API keys through the admin API, under /admin/v1 (administrator bearer tokens):
 * - `GET /api-keys?subject_urn=…|client_id=…&include_revoked=true` lists keys (never a value or digest);
 * - `GET /api-keys/{key_id}` shows one; `DELETE /api-keys/{key_id}` revokes it at once (audit
 *   `api_key.revoked`; 404 unknown, 409 already revoked);
 * - `PUT /clients/{client_id}/api-key-integration` `{ "scope": "users:read vendors:read" }` lets a client
 *   offer integrated keys, pre-scoped (default: its registered scopes; never wider); `DELETE` stops it
 *   (its keys stop working at once). Audit `api_key.integration_enabled` / `_disabled`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatSubjectUrn, parseScope, parseSubjectUrn } from '@gatehouse/protocol';
import type { ServerContext } from '../server-context.ts';
import type { ApiKeyRecord } from '../storage/storage.ts';
import { apiKeyState } from '../api-keys/api-key.ts';
import { disableApiKeyIntegration, enableApiKeyIntegration, revokeApiKey } from '../api-keys/api-key-service.ts';

const KEY_ID_PARAMS = { type: 'object', required: ['key_id'], properties: { key_id: { type: 'string', maxLength: 100 } } } as const;
const CLIENT_ID_PARAMS = { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string', maxLength: 100 } } } as const;
const security = [{ administratorToken: [] }];

/** A key as the admin API and CLI show it: snake_case, times in seconds since the epoch; no value, no digest. */
export function apiKeyJson(key: ApiKeyRecord, urnNamespace: string, now: number) {
  return {
    key_id: key.keyId, key_type: key.keyType, name: key.name, display_prefix: key.displayPrefix, client_id: key.clientId,
    subject_urn: formatSubjectUrn(urnNamespace, key.subjectType, key.subjectId), scope: key.scopes.join(' '), created_by: key.createdByUserId,
    created_at: key.createdAt, expires_at: key.expiresAt, last_used_at: key.lastUsedAt, revoked_at: key.revokedAt, revocation_reason: key.revocationReason,
    state: apiKeyState(key, now),
  };
}

export function apiKeyApi(context: ServerContext, administratorName: (request: FastifyRequest) => string) {
  return async function apiKeyApiPlugin(app: FastifyInstance): Promise<void> {
    const ns = context.options.brand.urnNamespace;
    const notFound = { error: 'not_found', error_description: 'no API key with that id' };

    app.get('/api-keys', {
      schema: {
        summary: 'List API keys (issue 16), newest first, at most 1000: of one subject (subject_urn) or one integration (client_id), or all; include_revoked=true adds revoked, deleted and rotated keys',
        security,
        querystring: { type: 'object', properties: { subject_urn: { type: 'string', maxLength: 200 }, client_id: { type: 'string', maxLength: 100 }, include_revoked: { type: 'boolean' } } },
      },
    }, async (request, reply) => {
      const query = request.query as { subject_urn?: string; client_id?: string; include_revoked?: boolean };
      const subject = query.subject_urn === undefined ? undefined : parseSubjectUrn(ns, query.subject_urn);
      if (query.subject_urn !== undefined && !subject) return reply.code(400).send({ error: 'invalid_request', error_description: 'subject_urn is not a company or organization URN', field: 'subject_urn' });
      const keys = await context.storage.apiKeys.list({ ...subject, clientId: query.client_id, includeRevoked: query.include_revoked === true });
      const now = context.clock.nowSeconds();
      return keys.map((key) => apiKeyJson(key, ns, now));
    });

    app.get('/api-keys/:key_id', { schema: { summary: 'Show an API key (never its value)', security, params: KEY_ID_PARAMS } }, async (request, reply) => {
      const key = await context.storage.apiKeys.find((request.params as { key_id: string }).key_id);
      return key ? apiKeyJson(key, ns, context.clock.nowSeconds()) : reply.code(404).send(notFound);
    });

    app.delete('/api-keys/:key_id', { schema: { summary: 'Revoke an API key at once; audit event api_key.revoked', security, params: KEY_ID_PARAMS } }, async (request, reply) => {
      const keyId = (request.params as { key_id: string }).key_id;
      const outcome = await revokeApiKey(context, keyId, `admin:${administratorName(request)}`, 'revoked');
      if (outcome === 'not_found') return reply.code(404).send(notFound);
      if (outcome === 'already_revoked') return reply.code(409).send({ error: 'conflict', error_description: 'the API key was already revoked' });
      return apiKeyJson((await context.storage.apiKeys.find(keyId))!, ns, context.clock.nowSeconds());
    });

    app.put('/clients/:client_id/api-key-integration', {
      schema: {
        summary: 'Let a client offer integrated API keys (issue 16), pre-scoped: scope defaults to the client\'s registered scopes and may not exceed them',
        security, params: CLIENT_ID_PARAMS, body: { type: 'object', additionalProperties: false, properties: { scope: { type: 'string', maxLength: 1000 } } },
      },
    }, async (request, reply) => {
      const client = await context.storage.clients.find((request.params as { client_id: string }).client_id);
      if (!client || client.kind !== 'client' || client.status === 'deleted') return reply.code(404).send({ error: 'not_found', error_description: 'no client with that id' });
      const requested = (request.body as { scope?: string } | undefined)?.scope;
      const scopes = requested === undefined ? client.scopes : parseScope(requested);
      if (!scopes || scopes.length === 0 || scopes.some((scope) => !client.scopes.includes(scope))) {
        return reply.code(400).send({ error: 'invalid_scope', error_description: 'scope must be a non-empty subset of the client\'s registered scopes', field: 'scope' });
      }
      await enableApiKeyIntegration(context, client, scopes, `admin:${administratorName(request)}`);
      const integration = (await context.storage.apiKeys.findIntegration(client.clientId))!;
      return { client_id: integration.clientId, scope: integration.scopes.join(' '), enabled_at: integration.enabledAt, enabled_by: integration.enabledBy };
    });

    app.delete('/clients/:client_id/api-key-integration', { schema: { summary: 'Stop a client offering integrated API keys; its keys stop working at once', security, params: CLIENT_ID_PARAMS } }, async (request, reply) => {
      if (!(await disableApiKeyIntegration(context, (request.params as { client_id: string }).client_id, `admin:${administratorName(request)}`))) {
        return reply.code(404).send({ error: 'not_found', error_description: 'the client does not offer integrated API keys' });
      }
      return reply.code(204).send();
    });
  };
}
