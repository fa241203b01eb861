import { SCOPE_CATALOGUE } from '@gatehouse/protocol';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorBodySchema } from './schemas.ts';

/** OpenAPI metadata a route carries in its `config`. */
export interface RouteDocumentation {
  readonly summary: string;
  readonly tags?: readonly string[];
  /** Scopes the route requires; `undefined` for a route without authentication. */
  readonly scopes?: readonly string[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: RouteDocumentation;
  }
}

/** Scope names and their descriptions (SPEC §3 "Scopes"): the catalogue's one wording, as the consent page shows it. */
export const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.fromEntries(SCOPE_CATALOGUE);

interface DocumentedRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: Record<string, unknown>;
  readonly documentation: RouteDocumentation;
}

interface ObjectSchema {
  readonly properties?: Record<string, Record<string, unknown>>;
  readonly required?: readonly string[];
}

function parametersOf(schema: unknown, location: 'query' | 'path'): object[] {
  const { properties = {}, required = [] } = (schema ?? {}) as ObjectSchema;
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: location,
      required: location === 'path' || required.includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: propertySchema,
    };
  });
}

const REFUSALS = {
  '400': 'Malformed request, or an access token outside the Authorization header (RFC 6750 §2.2/§2.3)',
  '401': 'Missing, invalid, expired or revoked access token (RFC 6750 §3.1); see WWW-Authenticate',
  '403': 'Insufficient scope (RFC 6750 §3.1) or a company outside the token subject',
  '503': 'The authorization server could not be reached to verify the token; retry later',
} as const;

function operationOf(route: DocumentedRoute): object {
  const { documentation, schema } = route;
  const responses: Record<string, object> = {};
  for (const [status, responseSchema] of Object.entries((schema['response'] ?? {}) as Record<string, object>)) {
    responses[status] = { description: status.startsWith('2') ? 'Success' : 'Error', content: { 'application/json': { schema: responseSchema } } };
  }
  if (documentation.scopes !== undefined) {
    for (const [status, description] of Object.entries(REFUSALS)) {
      responses[status] ??= { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
  }
  return {
    summary: documentation.summary,
    ...(documentation.tags === undefined ? {} : { tags: documentation.tags }),
    // Issue 16: a Bearer token with the scopes, or an API key (HTTP Basic) granting them.
    security: documentation.scopes === undefined ? [] : [{ oauth2: documentation.scopes }, { apiKey: [] }],
    parameters: [...parametersOf(schema['params'], 'path'), ...parametersOf(schema['querystring'], 'query')],
    ...(schema['body'] === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: schema['body'] } } } }),
    responses,
  };
}

/**
 * Collects every route declared after this call that carries `config.openapi`, and serves
 * an OpenAPI 3.1 document built from their Fastify schemas at `GET /openapi.json`.
 */
export function installOpenApi(app: FastifyInstance, info: { readonly issuer: string; readonly audience: string }): void {
  const routes: DocumentedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const documentation = route.config?.openapi;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (documentation === undefined) {
      return;
    }
    for (const method of methods) {
      if (method !== 'HEAD') {
        routes.push({ method: method.toLowerCase(), url: route.url, schema: (route.schema ?? {}) as Record<string, unknown>, documentation });
      }
    }
  });

  let document: object | undefined;
  app.get('/openapi.json', { config: { openapi: { summary: 'This OpenAPI document', tags: ['meta'] } } }, async () => {
    document ??= buildDocument(routes, info);
    return document;
  });
}

function buildDocument(routes: readonly DocumentedRoute[], info: { readonly issuer: string; readonly audience: string }): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    (paths[path] ??= {})[route.method] = operationOf(route);
  }
  const issuer = info.issuer.replace(/\/$/, '');
  return {
    openapi: '3.1.0',
    info: { title: 'Platform API (Gatehouse sample resource server)', version: '1.0.0' },
    servers: [{ url: info.audience }],
    paths,
    components: {
      schemas: { Error: errorBodySchema },
      securitySchemes: {
        // Issue 16: API keys, as HTTP Basic with the key as the user name and an empty password.
        apiKey: { type: 'http', scheme: 'basic', description: 'An API key (`gak_…`) as the user name, with an empty password: `curl -u "gak_…:"`.' },
        oauth2: {
          type: 'oauth2',
          description: 'Authorization code with PKCE S256; send the access token as `Authorization: Bearer <token>` only.',
          flows: {
            authorizationCode: {
              authorizationUrl: `${issuer}/oauth/authorize`,
              tokenUrl: `${issuer}/oauth/token`,
              refreshUrl: `${issuer}/oauth/token`,
              scopes: SCOPE_DESCRIPTIONS,
            },
          },
        },
      },
    },
  };
}
