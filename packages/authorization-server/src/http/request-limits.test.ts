import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, Browser, confidentialAuth, inputValue, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { MAX_FORM_PARAMETERS, parseFormBody } from './parameters.ts';
import { BODY_LIMIT_BYTES_BY_ROUTE, DEFAULT_BODY_LIMIT_BYTES } from './request-limits.ts';

/** The body of issue 11 item 1: 32,000 repeats of one parameter name, 64,000 bytes. */
const REPEATED_NAME_BODY = 'a&'.repeat(32_000);

const postRaw = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body })
    .then(async (response) => ({ status: response.status, headers: response.headers, json: JSON.parse((await response.text()) || 'null') }));

describe('parseFormBody (issue 11 item 1)', () => {
  it('keeps a repeated name as an array so endpoints can refuse it (RFC 6749 §3.1)', () => {
    const parameters = parseFormBody('grant_type=refresh_token&scope=a&scope=b&x=1+2%20');
    assert.deepEqual({ ...parameters }, { grant_type: 'refresh_token', scope: ['a', 'b'], x: '1 2 ' });
  });

  it('returns a prototype-less object, so __proto__ is only a parameter', () => {
    const parameters = parseFormBody('__proto__=x&constructor=y');
    assert.equal('toString' in parameters, false);
    assert.equal('hasOwnProperty' in parameters, false);
    // biome-ignore lint/suspicious/noProto: a prototype-less object: __proto__ is an own property here, not the accessor
    assert.equal(parameters.__proto__, 'x');
    assert.equal(parameters.constructor, 'y');
  });

  it(`refuses more than ${MAX_FORM_PARAMETERS} parameters with invalid_request before parsing`, () => {
    assert.equal(Object.keys(parseFormBody('a=1&'.repeat(MAX_FORM_PARAMETERS - 1) + 'b=2')).length, 2);
    assert.throws(() => parseFormBody('a=1&'.repeat(MAX_FORM_PARAMETERS) + 'b=2'), { code: 'invalid_request', status: 400 });
    assert.throws(() => parseFormBody(REPEATED_NAME_BODY), { code: 'invalid_request' });
  });
});

describe('form body limits per endpoint (issue 11 item 1)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const tokensIssued = async () => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'token.issued').length;

  it('answers the 32,000-repeat body with 413 at the token, revocation and introspection endpoints, and /health meanwhile', async () => {
    const [token, revoke, introspect, login, decision, health] = await Promise.all([
      postRaw(`${server.url}/oauth/token`, REPEATED_NAME_BODY, { authorization: confidentialAuth() }),
      postRaw(`${server.url}/oauth/revoke`, REPEATED_NAME_BODY, { authorization: confidentialAuth() }),
      postRaw(`${server.url}/oauth/token/introspect`, REPEATED_NAME_BODY, { authorization: confidentialAuth() }),
      postRaw(`${server.url}/login`, REPEATED_NAME_BODY),
      postRaw(`${server.url}/oauth/authorize/decision`, REPEATED_NAME_BODY),
      fetch(`${server.url}/health`).then(async (response) => ({ status: response.status, json: await response.json() })),
    ]);
    for (const response of [token, revoke, introspect, login, decision]) {
      assert.equal(response.status, 413);
      assert.equal(response.json.error, 'invalid_request');
      assert.equal(response.json.error_description, 'the request body is too large');
    }
    assert.equal(token.headers.get('cache-control'), 'no-store');
    assert.deepEqual(health, { status: 200, json: { status: 'ok' } });
  });

  it('answers the 32,000-repeat body with 400 invalid_request where the body limit admits it (portal and account forms), and /health meanwhile', async () => {
    assert.ok(Buffer.byteLength(REPEATED_NAME_BODY) < DEFAULT_BODY_LIMIT_BYTES);
    const [disconnect, portal, health] = await Promise.all([
      postRaw(`${server.url}/account/connected-apps/00000000-0000-4000-8000-000000000000/disconnect`, REPEATED_NAME_BODY),
      postRaw(`${server.url}/portal/clients/${seed.confidentialClient.id}`, REPEATED_NAME_BODY),
      fetch(`${server.url}/health`).then((response) => response.status),
    ]);
    for (const response of [disconnect, portal]) {
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_request');
      assert.equal(response.json.error_description, `the form has more than ${MAX_FORM_PARAMETERS} parameters`);
    }
    assert.equal(health, 200);
  });

  it(`refuses a token request with more than ${MAX_FORM_PARAMETERS} parameters with 400 invalid_request, and issues no token (the code stays unused)`, async () => {
    const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
    const code = redirect.searchParams.get('code')!;
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier });
    const padded = `${form}&${'pad=1&'.repeat(MAX_FORM_PARAMETERS)}`;
    assert.ok(Buffer.byteLength(padded) < BODY_LIMIT_BYTES_BY_ROUTE['/oauth/token']!);
    const before = await tokensIssued();
    const refused = await postRaw(`${server.url}/oauth/token`, padded, { authorization: confidentialAuth() });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_request');
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    assert.equal(await tokensIssued(), before);
    // Nothing was consumed: the same code still redeems once.
    const redeemed = await postForm(`${server.url}/oauth/token`, Object.fromEntries(form), { authorization: confidentialAuth() });
    assert.equal(redeemed.status, 200);
  });

  it('refuses a login form over its limit with 413 and starts no session', async () => {
    const browser = new Browser();
    const page = await browser.get(`${server.url}/portal`);
    const loginPage = page.location ? await browser.get(new URL(page.location, server.url).href) : page;
    const csrf = inputValue(loginPage.text, '_csrf')!;
    const cookiesBefore = new Map(browser.cookies);
    const response = await browser.request(`${server.url}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${new URLSearchParams({ _csrf: csrf, email: seed.users.alice.email, password: seed.users.alice.password, return_to: '/portal' })}&pad=${'x'.repeat(BODY_LIMIT_BYTES_BY_ROUTE['/login']!)}`,
    });
    assert.equal(response.status, 413);
    assert.deepEqual(browser.cookies, cookiesBefore);
  });
});
