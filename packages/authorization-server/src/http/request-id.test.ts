/**
 * Request ids (issue 14 "Observe"): every log line of a request carries its id, every response carries
 * `X-Request-Id`, every JSON error body `request_id` (RFC 6749 §5.2 extension member) and every error page
 * the reference for support; an incoming `X-Request-Id` is kept only when it matches `^[A-Za-z0-9._-]{1,64}$`.
 * And no log line of a full flow holds a secret, code, verifier, password or token value.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { authorize, authorizeUrl, confidentialAuth, introspect, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { REQUEST_ID_PATTERN } from './request-id.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids (issue 14 "Observe")', () => {
  let server: TestServer;
  const logLines: string[] = [];
  before(async () => {
    server = await startTestServer({ logger: { destination: { write: (line: string) => void logLines.push(line) } } });
  });
  after(() => server.close());
  const linesOf = (requestId: string) => logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.reqId === requestId);

  it('answers a success with a generated X-Request-Id (a UUID) that its log lines carry as reqId', async () => {
    const response = await fetch(`${server.url}/health`);
    assert.equal(response.status, 200);
    const requestId = response.headers.get('x-request-id')!;
    assert.match(requestId, UUID);
    assert.ok(linesOf(requestId).length >= 2, 'the incoming and completed lines of the request');
  });

  it('keeps a well-formed incoming X-Request-Id, in the response header and in every log line of the request', async () => {
    const response = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'proxy-01.abc_DEF' } });
    assert.equal(response.headers.get('x-request-id'), 'proxy-01.abc_DEF');
    const lines = linesOf('proxy-01.abc_DEF');
    assert.ok(lines.some((line) => line.msg === 'incoming request') && lines.some((line) => line.msg === 'request completed'));
  });

  for (const [label, incoming] of [
    ['markup', '<script>alert(1)</script>'], ['a space', 'a b'], ['65 characters', 'a'.repeat(65)], ['a newline-like escape', 'id%0Aforged'], ['a quote', 'id"x'],
  ] as const) {
    it(`replaces an incoming X-Request-Id with ${label} by a generated one, and never logs it`, async () => {
      assert.doesNotMatch(incoming, REQUEST_ID_PATTERN);
      const response = await fetch(`${server.url}/health`, { headers: { 'x-request-id': incoming } });
      assert.equal(response.status, 200);
      const requestId = response.headers.get('x-request-id')!;
      assert.match(requestId, UUID);
      assert.ok(linesOf(requestId).length >= 2);
      assert.ok(!logLines.some((line) => line.includes(incoming)), 'the refused value is in no log line');
    });
  }

  it('adds request_id, equal to X-Request-Id, to a token endpoint error body beside error and error_description (RFC 6749 §5.2)', async () => {
    const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'not-a-token' }, { authorization: confidentialAuth(), 'x-request-id': 'req-token-400' });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('x-request-id'), 'req-token-400');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(response.json).sort(), ['error', 'error_description', 'request_id']);
    assert.equal(response.json.error, 'invalid_grant');
    assert.equal(response.json.request_id, 'req-token-400');
    assert.ok(linesOf('req-token-400').length >= 2);
  });

  it('adds request_id to a 401 invalid_client body and keeps WWW-Authenticate (RFC 6749 §5.2)', async () => {
    const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: 'Basic d3Jvbmc6d3Jvbmc=' });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate')!, /^Basic /);
    assert.equal(response.json.error, 'invalid_client');
    assert.equal(response.json.request_id, response.headers.get('x-request-id'));
  });

  it('adds request_id to admin API error bodies (401 without a token, 404 for an unknown client)', async () => {
    const unauthenticated = await fetch(`${server.url}/admin/v1/clients`, { headers: { 'x-request-id': 'req-admin-401' } });
    assert.equal(unauthenticated.status, 401);
    assert.deepEqual(await unauthenticated.json(), { error: 'unauthorized', error_description: 'an administrator bearer token is required', request_id: 'req-admin-401' });
    const admin = (await createAdminToken(server.storage, 'ops-request-id', server.clock.nowSeconds())).token;
    const missing = await fetch(`${server.url}/admin/v1/clients/00000000-0000-4000-8000-000000000000`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(missing.status, 404);
    const body = await missing.json();
    assert.equal(typeof body.error, 'string');
    assert.equal(body.request_id, missing.headers.get('x-request-id'));
  });

  it('leaves success bodies without request_id', async () => {
    const response = await postForm(`${server.url}/oauth/token/introspect`, { token: 'unknown' }, { authorization: `Basic ${Buffer.from(`${seed.resourceServer.id}:${seed.resourceServer.secret}`).toString('base64')}` });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json, { active: false });
  });

  it('shows the reference for support on the error page of an unknown client_id (SPEC decision 5: no redirect)', async () => {
    const page = await fetch(authorizeUrl(server, { response_type: 'code', client_id: '00000000-0000-4000-8000-000000000000', state: 's' }), { redirect: 'manual', headers: { 'x-request-id': 'req-page-400' } });
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('x-request-id'), 'req-page-400');
    assert.match(await page.text(), /<p class="muted reference">If you contact support, give them this reference: <code>req-page-400<\/code><\/p>/);
  });

  it('logs no secret, code, verifier, password or token value in any line of a full flow (code, refresh, introspection, revocation)', async () => {
    const from = logLines.length;
    const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
    const code = redirect.searchParams.get('code')!;
    const issued = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier }, { authorization: confidentialAuth() });
    assert.equal(issued.status, 200);
    const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: issued.json.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(refreshed.status, 200);
    const reused = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'gh_not_a_real_token' }, { authorization: confidentialAuth() });
    assert.equal(reused.status, 400);
    assert.equal((await introspect(server, refreshed.json.access_token)).active, true);
    const revoked = await postForm(`${server.url}/oauth/revoke`, { token: refreshed.json.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(revoked.status, 200);
    const lines = logLines.slice(from);
    assert.ok(lines.length >= 10, 'the flow was logged');
    for (const line of lines) assert.ok(typeof JSON.parse(line).reqId === 'string', `a request id on every line: ${line}`);
    const secrets = [
      code, codeVerifier, issued.json.access_token, issued.json.refresh_token, refreshed.json.access_token, refreshed.json.refresh_token,
      seed.confidentialClient.secret, seed.resourceServer.secret, seed.users.alice.password, confidentialAuth().slice('Basic '.length),
    ];
    for (const secret of secrets) assert.ok(!lines.some((line) => line.includes(secret)), 'a secret or token value reached a log line');
  });
});
