import type { FetchFunction } from './introspection.ts';

/**
 * Test double for the introspection endpoint as an injected `fetch`: no sockets, a mutable
 * token table, and a record of each request. Only for tests; not exported.
 */
export interface FakeIntrospectionEndpoint {
  readonly fetch: FetchFunction;
  /** token → introspection JSON the endpoint answers (with HTTP 200). */
  readonly answers: Map<string, Record<string, unknown>>;
  readonly requests: Array<{ url: string; method: string | undefined; headers: Headers; body: URLSearchParams }>;
  /** When set, replaces the normal answer (e.g. to fail). */
  respond: ((token: string) => Response | Promise<Response>) | undefined;
}

export function createFakeIntrospectionEndpoint(): FakeIntrospectionEndpoint {
  const endpoint: FakeIntrospectionEndpoint = {
    answers: new Map(),
    requests: [],
    respond: undefined,
    async fetch(url, init) {
      const body = new URLSearchParams(init.body as URLSearchParams);
      endpoint.requests.push({ url, method: init.method, headers: new Headers(init.headers), body });
      const token = body.get('token') ?? '';
      if (endpoint.respond !== undefined) {
        return endpoint.respond(token);
      }
      return Response.json(endpoint.answers.get(token) ?? { active: false });
    },
  };
  return endpoint;
}
