import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { ConfigurationError, DpopProofRejectedError, InvalidApiRequestError, TransportError } from './errors.ts';
import type { AccessTokenLease, Refresher } from './refresh.ts';
import { apiRequest, createApiRefusals, resolveApiUrl } from './resource-request.ts';

const transport = { allowLoopbackHttp: false, timeoutMilliseconds: 1000, fetch: undefined };
const settings = { apiUrl: new URL('https://api.example/platform'), transport };

describe('where fetch may send a token (RFC 6750 §2.1 header only, to the API origin only)', () => {
  it('resolves relative paths against the API base, keeping its path', () => {
    assert.equal(resolveApiUrl(settings, '/v1/users?limit=2').href, 'https://api.example/platform/v1/users?limit=2');
    assert.equal(resolveApiUrl(settings, 'v1/users').href, 'https://api.example/platform/v1/users');
    assert.equal(resolveApiUrl(settings, 'https://api.example/v1/companies').href, 'https://api.example/v1/companies');
  });

  it('refuses other origins, plain http, credentials in the URL, and relative paths without an API base', () => {
    assert.throws(() => resolveApiUrl(settings, 'https://attacker.example/v1/users'), ConfigurationError);
    assert.throws(() => resolveApiUrl(settings, 'https://api.example:8443/v1/users'), ConfigurationError);
    assert.throws(() => resolveApiUrl({ apiUrl: new URL('http://api.example'), transport }, '/v1/users'), /refusing to send a token over http/);
    assert.throws(() => resolveApiUrl(settings, 'https://user:pass@api.example/v1/users'), /credentials/);
    assert.throws(() => resolveApiUrl({ apiUrl: undefined, transport }, '/v1/users'), /no apiUrl/);
    assert.doesNotThrow(() => resolveApiUrl({ apiUrl: new URL('http://localhost:3001'), transport: { ...transport, allowLoopbackHttp: true } }, '/v1/users'));
  });
});

describe('a request that cannot be sent is the caller\'s mistake, found before any token is read (RFC 9110 §9.1)', () => {
  const ACCESS_TOKEN = 'at_test-access-token-value';
  function setup(fetchReplacement?: typeof fetch, timeoutMilliseconds = 1000) {
    const leases: string[] = [];
    const sent: string[] = [];
    const refresher = {
      async accessToken(connectionId: string): Promise<AccessTokenLease> {
        leases.push(connectionId);
        return { accessToken: ACCESS_TOKEN, version: 1, generation: 'g1', dpopKeyCiphertext: null };
      },
    } as Refresher;
    const recording: typeof fetch = async (input, init) => {
      sent.push(String(input));
      return (fetchReplacement ?? fetch)(input, init);
    };
    const requestSettings = { apiUrl: new URL('http://127.0.0.1:1'), transport: { allowLoopbackHttp: true, timeoutMilliseconds, fetch: recording } };
    return { leases, sent, send: (init: Parameters<typeof apiRequest>[4]) => apiRequest(refresher, requestSettings, 'c1', '/v1/vendors', init) };
  }
  const refused = (problem: string, method: string) => (error: unknown) => {
    assert.ok(error instanceof InvalidApiRequestError, String(error));
    assert.equal(error.problem, problem);
    assert.equal(error.method, method);
    assert.ok(!(error instanceof TransportError), 'not a network failure');
    assert.ok(!error.message.includes(ACCESS_TOKEN));
    return true;
  };

  it('refuses a method that is not an HTTP token, without reading a token or sending anything', async () => {
    const { leases, sent, send } = setup();
    for (const method of ['FOO BAR', 'GET\r\n', '', 'PÖST', '(GET)']) {
      await assert.rejects(send({ method }), refused('method_not_token', method.toUpperCase() || ''), JSON.stringify(method));
    }
    assert.deepEqual(leases, []);
    assert.deepEqual(sent, []);
  });

  it('refuses a body with GET (the default method) or HEAD, without reading a token or sending anything', async () => {
    const { leases, sent, send } = setup();
    await assert.rejects(send({ body: '{"name":"x"}' }), refused('body_not_allowed', 'GET'));
    await assert.rejects(send({ method: 'get', body: '{}' }), refused('body_not_allowed', 'GET'));
    await assert.rejects(send({ method: 'HEAD', body: new Uint8Array([1]) }), /a HEAD request cannot have a body/);
    assert.deepEqual(leases, []);
    assert.deepEqual(sent, []);
  });

  it('reports a TypeError of fetch refusing the request as InvalidApiRequestError, not as a network failure', async () => {
    // A real one: Node's fetch refuses CONNECT, although it is a token.
    const real = setup();
    await assert.rejects(real.send({ method: 'CONNECT' }), (error: unknown) => {
      refused('refused_by_fetch', 'CONNECT')(error);
      assert.match((error as Error).message, /fetch refused it: .*CONNECT/);
      return true;
    });
    // A socket error is still a network failure (fetch's TypeError "fetch failed" with the error as its cause).
    const down = setup(async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    });
    await assert.rejects(down.send({ method: 'POST', body: '{}' }), (error: unknown) => error instanceof TransportError && error.reason === 'network');
  });

  it('a caller\'s signal is added to the per-request timeout (httpTimeoutMilliseconds), never replaces it: an API that never answers is a timeout', { timeout: 10_000 }, async () => {
    // Answers only when the request's signal aborts, as fetch does.
    const never: typeof fetch = (_input, init) => new Promise<Response>((_resolve, reject) => {
      if (init?.signal?.aborted) reject(init.signal.reason);
      init?.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true });
    });
    const caller = new AbortController();
    await assert.rejects(setup(never, 5).send({ signal: caller.signal }), (error: unknown) => error instanceof TransportError && error.reason === 'timeout');
    // The caller's signal still ends the request, long before the timeout, with its own reason as fetch does: a
    // cancel is not a network failure nor a timeout.
    const cancelled = setup(never, 600_000).send({ signal: caller.signal });
    caller.abort();
    await assert.rejects(cancelled, (error: unknown) => error instanceof DOMException && error.name === 'AbortError' && !(error instanceof TransportError));
    const reason = new Error('the browser went away');
    await assert.rejects(setup(never, 600_000).send({ signal: AbortSignal.abort(reason) }), (error: unknown) => error === reason);
    // Whatever the reason is: a TypeError given as the reason is not fetch refusing to build the request.
    const typeErrorReason = new TypeError('the client disconnected');
    await assert.rejects(setup(never, 600_000).send({ signal: AbortSignal.abort(typeErrorReason) }), (error: unknown) => error === typeErrorReason);
  });
});

describe('DPoP refusals by the API: a nonce retry, one refresh per cause, never one per call (RFC 9449 §7.1, §9)', () => {
  const keyPair = oauth.generateKeyPair('ES256');
  /** A refresher whose refreshes each give a new token bound to the same stored key. */
  function setup(answer: (request: Request, call: number) => Response) {
    let version = 1;
    const refreshes: number[] = [];
    const lease = (): AccessTokenLease => ({ accessToken: `at_v${version}`, version, generation: 'g1', dpopKeyCiphertext: 'sealed-key-1' });
    const refresher = {
      async accessToken() {
        return lease();
      },
      async accessTokenAfterRejection(_connectionId: string, rejected: { version: number }) {
        if (rejected.version === version) {
          version += 1;
          refreshes.push(version);
        }
        return lease();
      },
    } as unknown as Refresher;
    const sent: Request[] = [];
    const api: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      sent.push(request);
      return answer(request, sent.length);
    };
    const apiRefusals = createApiRefusals();
    const handle = keyPair.then((pair) => oauth.DPoP({ client_id: 'c1' } as oauth.Client, pair));
    const requestSettings = {
      apiUrl: new URL('http://127.0.0.1:1'), transport: { allowLoopbackHttp: true, timeoutMilliseconds: 1000, fetch: api }, apiRefusals,
      dpop: () => handle,
    };
    return { refreshes, sent, apiRefusals, call: () => apiRequest(refresher, requestSettings, 'c1', '/v1/users') };
  }
  const refusedProof = () => new Response('{}', {
    status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid: htu does not match"' },
  });
  const proofPayload = (request: Request) => JSON.parse(Buffer.from(request.headers.get('dpop')!.split('.')[1]!, 'base64url').toString()) as { nonce?: string };

  it('an API that refuses every proof (its own misconfigured origin) costs one refresh, then DpopProofRejectedError on each call without one', async () => {
    let broken = true;
    const { refreshes, sent, call } = setup(() => (broken ? refusedProof() : new Response('{"data":[]}', { status: 200 })));
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof DpopProofRejectedError, String(error));
      assert.equal(error.refreshed, true);
      assert.equal(error.connectionId, 'c1');
      assert.equal(error.status, 401);
      assert.equal(error.apiErrorDescription, 'The DPoP proof is invalid: htu does not match');
      assert.match(error.message, /again after a refresh.*public origin.*htu/);
      assert.ok(!error.message.includes('at_v'), 'no token in the message');
      return true;
    });
    assert.equal(refreshes.length, 1);
    assert.equal(sent.length, 2);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(call(), (error: unknown) => error instanceof DpopProofRejectedError && !error.refreshed && /none was made/.test(error.message));
    }
    assert.equal(refreshes.length, 1, 'no refresh per call');
    assert.equal(sent.length, 7, 'one request per call');
    // The API is fixed: accepted, and the refusal forgotten; broken again later, a new cause is worth one refresh.
    broken = false;
    assert.equal((await call()).status, 200);
    broken = true;
    await assert.rejects(call(), (error: unknown) => error instanceof DpopProofRejectedError && error.refreshed);
    await assert.rejects(call(), (error: unknown) => error instanceof DpopProofRejectedError && !error.refreshed);
    assert.equal(refreshes.length, 2);
  });

  it('a token bound to another key than the proofs\' still heals with one refresh, and the request is repeated', async () => {
    const { refreshes, call } = setup((request) => (request.headers.get('authorization') === 'DPoP at_v1' ? refusedProof() : new Response('{}', { status: 200 })));
    assert.equal((await call()).status, 200);
    assert.equal(refreshes.length, 1);
    assert.equal((await call()).status, 200);
    assert.equal(refreshes.length, 1);
  });

  it('answers use_dpop_nonce by sending the same token again with the DPoP-Nonce given, without a refresh (RFC 9449 §9)', async () => {
    const { refreshes, sent, call } = setup((request) => (proofPayload(request).nonce === 'n-1'
      ? new Response('{}', { status: 200 })
      : new Response('{}', { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' } })));
    assert.equal((await call()).status, 200);
    assert.equal(refreshes.length, 0);
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.headers.get('authorization'), 'DPoP at_v1', 'the same token');
    assert.notEqual(sent[1]!.headers.get('dpop'), sent[0]!.headers.get('dpop'), 'a new proof');
    // The nonce is kept for the next call.
    assert.equal((await call()).status, 200);
    assert.equal(sent.length, 3);
  });

  it('an API that refuses every token (invalid_token, its own fault) costs one refresh for that token, not one per call; its answer is returned', async () => {
    let broken = true;
    const { refreshes, sent, call } = setup(() => (broken
      ? new Response('{}', { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } })
      : new Response('{}', { status: 200 })));
    for (let i = 0; i < 4; i++) assert.equal((await call()).status, 401);
    assert.equal(refreshes.length, 1, 'no refresh per call');
    assert.equal(sent.length, 5, 'two requests for the first call, one for each later one');
    broken = false;
    assert.equal((await call()).status, 200);
    broken = true;
    assert.equal((await call()).status, 401);
    assert.equal(refreshes.length, 2, 'a new cause once a request was accepted');
  });

  it('DpopProofRejectedError never carries an error_description that quotes the token', async () => {
    const { call } = setup((request) => new Response('{}', {
      status: 401, headers: { 'www-authenticate': `DPoP error="invalid_dpop_proof", error_description="bad proof for ${request.headers.get('authorization')!.slice('DPoP '.length)}"` },
    }));
    await assert.rejects(call(), (error: unknown) => error instanceof DpopProofRejectedError && error.apiErrorDescription === undefined && !error.message.includes('at_v'));
  });
});
