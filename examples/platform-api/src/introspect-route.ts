import type { FastifyInstance } from 'fastify';
import { formatScope } from '@gatehouse/protocol';
import { getAccessToken, requireAccessToken } from '@gatehouse/resource-server';
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
      preValidation: requireAccessToken(context.verifier, []),
      schema: { response: { 200: introspectionSchema } },
      config: { openapi: { summary: 'Describe the access token of this request', tags: ['authentication'], scopes: [] } },
    },
    async (request) => {
      const token = getAccessToken(request);
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
