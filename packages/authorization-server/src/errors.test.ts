import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorDescription, MAX_ERROR_DESCRIPTION_LENGTH, OAuthError } from './errors.ts';
import { authorizeUrl, confidentialAuth, obtainTokens, postForm, seed, startTestServer, type TestServer } from './testing/harness.ts';

/** RFC 6749 §5.2 / §4.1.2.1: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ). */
const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;

describe('error_description characters (issue 11 item 13, RFC 6749 §5.2, §4.1.2.1)', () => {
  describe('errorDescription', () => {
    it('keeps allowed text as it is', () => {
      assert.equal(errorDescription('client authentication failed'), 'client authentication failed');
    });

    it('replaces ", \\, § and every character outside %x20-21 / %x23-5B / %x5D-7E', () => {
      assert.equal(errorDescription('grant_type "x" is \\ bad (RFC 6749 §3.3)'), "grant_type 'x' is / bad (RFC 6749 section 3.3)");
      const cleaned = errorDescription('a\u0000b\nc\td\u00e9e\u{1F600}f\u007f<script>');
      assert.match(cleaned, ERROR_DESCRIPTION);
      assert.equal(cleaned, 'a?b?c?d?e??f?<script>');
    });

    it(`cuts descriptions to ${MAX_ERROR_DESCRIPTION_LENGTH} characters`, () => {
      assert.equal(errorDescription('x'.repeat(1000)).length, MAX_ERROR_DESCRIPTION_LENGTH);
    });

    it('is applied by OAuthError, so no thrown description can break the rule', () => {
      const error = new OAuthError('invalid_request', 'parameter "scope" is repeated §');
      assert.match(error.description, ERROR_DESCRIPTION);
      assert.match(error.toJSON().error_description, ERROR_DESCRIPTION);
    });
  });

  describe('every description in the code base', () => {
    /**
     * Interpolations a description may contain: values of this code base (enums, constants, parameter
     * names), never request input. A new one must be added here after checking where it comes from.
     */
    const ALLOWED_INTERPOLATIONS = new Set([
      'client.status', 'maxParameters', 'unsupported', 'subjectParameter', 'subjectType', 'authorization.subjectType',
      'name', // singleParameter(parameters, name): callers pass the parameter names they read, never request input
    ]);
    const sourceFiles = (directory: string): string[] => readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return entry.name === 'testing' ? [] : sourceFiles(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
    });
    /** The argument text of each call of `new OAuthError(`, `new AuthorizationRedirectError(` or `fail(`. */
    const calls = (source: string): string[] => {
      const found: string[] = [];
      for (const match of source.matchAll(/(?:new OAuthError|new AuthorizationRedirectError|\bfail)\(/g)) {
        let depth = 1;
        let index = match.index + match[0].length;
        const start = index;
        for (; index < source.length && depth > 0; index++) {
          if (source[index] === '(') depth++;
          else if (source[index] === ')') depth--;
        }
        found.push(source.slice(start, index - 1));
      }
      return found;
    };

    it('uses only RFC 6749 §5.2 characters and interpolates no request input', () => {
      const problems: string[] = [];
      let descriptions = 0;
      for (const file of sourceFiles(import.meta.dirname)) {
        for (const call of calls(readFileSync(file, 'utf8'))) {
          for (const literal of call.matchAll(/'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g)) {
            const text = literal[1] ?? literal[2]!;
            if (/^[a-z_]+$/.test(text)) continue; // the error code
            descriptions++;
            for (const interpolation of text.matchAll(/\$\{([^}]*)\}/g)) {
              if (!ALLOWED_INTERPOLATIONS.has(interpolation[1]!)) problems.push(`${file}: interpolates ${interpolation[1]}`);
            }
            const fixed = text.replace(/\$\{[^}]*\}/g, 'x').replace(/\\'/g, "'");
            if (!ERROR_DESCRIPTION.test(fixed)) problems.push(`${file}: ${text}`);
          }
        }
      }
      assert.ok(descriptions > 50, `found only ${descriptions} descriptions: the walk is broken`);
      assert.deepEqual(problems, []);
    });
  });

  describe('over HTTP', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(() => server.close());

    it('answers an unknown grant_type with a fixed description that does not echo it', async () => {
      const response = await postForm(`${server.url}/oauth/token`, { grant_type: '"<script>alert(1)</script>§' }, { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'unsupported_grant_type');
      assert.match(response.json.error_description, ERROR_DESCRIPTION);
      assert.doesNotMatch(response.text, /<script|alert\(/);
    });

    it('refuses a widened refresh scope without echoing the scope sent', async () => {
      const { tokens } = await obtainTokens(server, { scope: 'users:read', extra: { prompt: 'consent' } });
      const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'users:read echoed-scope-marker' }, { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_scope');
      assert.doesNotMatch(response.text, /echoed-scope-marker/);
    });

    it('redirects authorization errors with RFC-safe descriptions that do not echo the request', async () => {
      for (const extra of [{ scope: 'users:read echoed-scope-marker' }, { scope: 'users:read', prompt: 'login' }, { scope: 'users:read "' }]) {
        const response = await fetch(authorizeUrl(server, {
          response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, state: 's', ...extra,
        }), { redirect: 'manual' });
        assert.equal(response.status, 303);
        const location = new URL(response.headers.get('location')!);
        const description = location.searchParams.get('error_description')!;
        assert.ok(location.searchParams.get('error'));
        assert.match(description, ERROR_DESCRIPTION);
        assert.doesNotMatch(description, /echoed-scope-marker/);
      }
    });
  });
});
