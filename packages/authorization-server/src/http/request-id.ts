/**
 * Request ids (issue 14 "Observe"): every log line of a request carries its id (Fastify's `reqId`), every
 * response carries it in `X-Request-Id`, and every JSON error body carries it as `request_id` beside
 * `error` and `error_description` (RFC 6749 §5.2 lets a response carry extension members; oauth4webapi and
 * openid-client read only the members they know). HTML error pages show it, for the user to give to support.
 *
 * An incoming `X-Request-Id` (from a proxy or a partner) is kept only when it matches
 * `REQUEST_ID_PATTERN`: at most 64 characters of `A-Z a-z 0-9 . _ -`, so a log line or a page can never
 * receive markup, control characters, or a long value through it. Anything else is replaced by a fresh UUID.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Fastify `genReqId`: the incoming `X-Request-Id` when it matches `REQUEST_ID_PATTERN` (one header only), else a random UUID. */
export function requestIdFor(request: IncomingMessage): string {
  const incoming = request.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

/**
 * `X-Request-Id` on every response, and `request_id` added to every JSON error body (status ≥ 400, an object
 * with a string `error`) that does not have one yet. Success bodies are never touched.
 */
export function installRequestIds(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode < 400 || typeof payload !== 'string' || !/json/i.test(String(reply.getHeader('content-type') ?? ''))) {
      return done(null, payload);
    }
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return done(null, payload);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body) || typeof (body as { error?: unknown }).error !== 'string' || 'request_id' in body) {
      return done(null, payload);
    }
    done(null, JSON.stringify({ ...body, request_id: request.id }));
  });
}
