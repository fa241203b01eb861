/**
 * Security headers (SPEC decisions 17, 18): every response of every kind carries the same helmet headers,
 * exactly those @fastify/helmet sent before they were computed once at startup (issue 12), with HSTS
 * outside development only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { startTestServer } from '../testing/harness.ts';
import { securityHeaders } from './security-headers.ts';

/** What @fastify/helmet 13.2.0 with helmet 8.3.0 sent for this configuration (recorded on 2026-12-04). */
const EXPECTED_DEVELOPMENT: Record<string, string> = {
  'content-security-policy': "default-src 'none';style-src 'self';img-src 'self' https: data:;frame-ancestors 'none';base-uri 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
const EXPECTED_PRODUCTION = { ...EXPECTED_DEVELOPMENT, 'strict-transport-security': 'max-age=31536000; includeSubDomains' };

/** Headers a response carries that are not security headers (framing, caching, ids). */
const OTHER_HEADERS = new Set(['x-request-id', 'content-type', 'content-length', 'date', 'connection', 'keep-alive', 'cache-control', 'pragma', 'allow', 'accept', 'www-authenticate', 'set-cookie']);

function securityHeadersOf(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !OTHER_HEADERS.has(name)));
}

describe('security headers (SPEC decisions 17, 18)', () => {
  it('computes the helmet headers once: the same set as @fastify/helmet sent, HSTS only outside development', () => {
    assert.deepEqual({ ...securityHeaders(false) }, EXPECTED_DEVELOPMENT);
    assert.deepEqual({ ...securityHeaders(true) }, EXPECTED_PRODUCTION);
  });

  for (const environment of ['development', 'production'] as const) {
    it(`sends exactly these headers on pages, JSON answers, errors, 404s and 405s in ${environment}`, async () => {
      const server = await startTestServer({ environment, trustProxy: true, ...(environment === 'production' ? { issuer: 'https://auth.example' } : {}) });
      try {
        const expected = environment === 'production' ? EXPECTED_PRODUCTION : EXPECTED_DEVELOPMENT;
        for (const [method, url, status] of [
          ['GET', '/health', 200], ['GET', '/.well-known/jwks.json', 200], ['GET', '/account/forgot-password', 200], ['POST', '/oauth/token', 400], ['GET', '/no-such-page', 404], ['GET', '/oauth/authorize/decision', 405],
        ] as const) {
          const response = await server.app.inject({ method, url, headers: { 'x-forwarded-proto': 'https' } });
          assert.equal(response.statusCode, status, `${method} ${url}`);
          assert.deepEqual(securityHeadersOf(response.headers), expected, `${method} ${url}`);
        }
      } finally {
        await server.close();
      }
    });
  }

  for (const environment of ['development', 'production'] as const) {
    it(`sends them, the request id and no-store on the URLs Fastify's router refuses before any hook, repeating no URL (${environment})`, async () => {
      const server = await startTestServer({ environment, trustProxy: true, ...(environment === 'production' ? { issuer: 'https://auth.example' } : {}) });
      try {
        const expected = environment === 'production' ? EXPECTED_PRODUCTION : EXPECTED_DEVELOPMENT;
        for (const [url, status] of [['/oauth/token/%ZZ%3Cscript%3E', 400], [`/logos/${'a'.repeat(200)}`, 414]] as const) {
          const response = await server.app.inject({ method: 'GET', url, headers: { 'x-forwarded-proto': 'https' } });
          assert.equal(response.statusCode, status, url);
          assert.deepEqual(securityHeadersOf(response.headers), expected, url);
          assert.equal(response.headers['cache-control'], 'no-store', url);
          const body = response.json();
          assert.equal(body.error, 'invalid_request', url);
          assert.equal(body.request_id, response.headers['x-request-id'], url);
          assert.doesNotMatch(response.body, /<script|%3C|%ZZ|aaaa|FST_/i, `${url}: the answer repeats neither the URL nor Fastify's code`);
        }
      } finally {
        await server.close();
      }
    });
  }

  it('answers the health probes over plain HTTP in production (a load balancer probes the instance directly), and nothing else', async () => {
    const server = await startTestServer({ environment: 'production', issuer: 'https://auth.example', trustProxy: true });
    try {
      for (const url of ['/health', '/health/ready']) {
        assert.equal((await server.app.inject({ method: 'GET', url })).statusCode, 200, url);
        assert.equal((await server.app.inject({ method: 'HEAD', url })).statusCode, 200, `HEAD ${url}`);
      }
      for (const [method, url] of [['GET', '/oauth/authorize'], ['POST', '/oauth/token'], ['GET', '/login'], ['GET', '/health/../oauth/authorize'], ['POST', '/health'], ['GET', '/metrics']] as const) {
        assert.equal((await server.app.inject({ method, url })).statusCode, 403, `${method} ${url}`);
      }
    } finally {
      await server.close();
    }
  });

  it('sends them on the refusals of the request hooks too: plain HTTP in production, two Authorization headers, multipart, credentials in the URL', async () => {
    const server = await startTestServer({ environment: 'production', issuer: 'https://auth.example', trustProxy: true });
    try {
      const plain = await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
      assert.equal(plain.statusCode, 403);
      assert.deepEqual(securityHeadersOf(plain.headers), EXPECTED_PRODUCTION);
      const https = { 'x-forwarded-proto': 'https' };
      // Each refused by its hook (the description says which), before any route ran.
      const refusals: [string, InjectOptions, number, RegExp][] = [
        ['two Authorization headers', { method: 'POST', url: '/oauth/token', headers: { ...https, authorization: ['Basic YTpi', 'Basic YzpkZA=='] as unknown as string } }, 400, /more than one Authorization header/],
        ['a multipart body', { method: 'POST', url: '/oauth/token', headers: { ...https, 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' }, 415, /must be application\/x-www-form-urlencoded/],
        ['a client secret in the URL', { method: 'POST', url: '/oauth/token?client_secret=s', headers: https }, 400, /must not be sent in the URL/],
      ];
      for (const [label, request, status, description] of refusals) {
        const response = await server.app.inject(request);
        assert.equal(response.statusCode, status, label);
        assert.match(response.json().error_description, description, label);
        assert.deepEqual(securityHeadersOf(response.headers), EXPECTED_PRODUCTION, label);
      }
    } finally {
      await server.close();
    }
  });
});
