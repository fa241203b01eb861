import type { FastifyInstance } from 'fastify';
import { formatScope } from '@gatehouse/protocol';
import { getCredential, requireCredential } from '@gatehouse/resource-server';
import type { RouteContext } from './route-context.ts';
import { introspectionSchema } from './schemas.ts';

/**
 * `GET /v1/introspect`: the "current authentication" of the platform (SPEC §3), for any
 * valid token: `{ data: { authMethod: "OAUTH2", clientId, scope, applicationName, subjectURN } }`.
 */
export function registerIntrospectRoute(app: FastifyInstance, context: RouteContext): void {
  app.get(
    '/v1/introspect',
    {
      preValidation: requireCredential(context.credentials, [], context.acceptedCredentials, context.verifier.realm),
      schema: { response: { 200: introspectionSchema } },
      config: { openapi: { summary: 'Describe the access token of this request', tags: ['authentication'], scopes: [] } },
    },
    async (request) => {
      const credential = getCredential(request);
      // Issue 16: an API key describes itself as API_KEY; a standalone key has no client.
      if (credential.kind === 'api_key') {
        const key = credential.apiKey;
        return { data: { authMethod: 'API_KEY', clientId: key.clientId ?? null, scope: formatScope(key.scope), applicationName: key.clientName ?? null, subjectURN: key.subjectUrn } };
      }
      const token = credential.accessToken;
      return {
        data: {
          authMethod: 'OAUTH2',
          clientId: token.clientId,
          scope: formatScope(token.scope),
          applicationName: token.clientName ?? null,
          subjectURN: token.subjectUrn,
        },
      };
    },
  );
}
