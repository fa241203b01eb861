/**
 * The partner app's language switch (POST /language, language-switch.ts) without a Gatehouse: the cookie it sets and
 * its flags, the cookie winning over Accept-Language, unknown values ignored, CSRF and Origin checks, the page it comes
 * back to, and never an open redirect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryTokenStore, generateEncryptionKey, silentLogger } from '@gatehouse/client';
import { inputValue } from '../../../packages/authorization-server/src/testing/harness.ts';
import { createPartnerApp, type PartnerApp } from './partner-app.ts';
import { safeReturnPath, switchReturnPath } from './language-switch.ts';

const OFFSITE = [
  'https://evil.example/', 'http://evil.example', '//evil.example/', '/\\evil.example/', '\\\\evil.example', '/\\/evil.example', '//\\evil.example',
  '/.//evil.example', '/a/..//evil.example', '/%2e//evil.example', '/\t/evil.example', '\t//evil.example', ' /home', '/x\n/y', 'javascript:alert(1)',
  'evil.example', '', '/'.padEnd(3000, 'a'),
];

function partnerApp(publicUrl = 'http://127.0.0.1:8089'): PartnerApp {
  // Nothing here reaches Gatehouse: pages without a connection and the switch only.
  return createPartnerApp({
    environment: 'development', publicUrl,
    gatehouse: {
      issuer: 'http://127.0.0.1:9', apiUrl: 'http://127.0.0.1:9', clientId: '7af385a0-284d-48c5-b225-362862085551', clientSecret: 'unused',
      scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: [generateEncryptionKey('switch')], logger: silentLogger,
    },
  });
}

const setCookies = (headers: Record<string, unknown>): string[] => {
  const value = headers['set-cookie'];
  return value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
};
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('safeReturnPath and switchReturnPath', () => {
  it('keeps a same-origin path; anything that could leave the site is /', () => {
    assert.equal(safeReturnPath('/'), '/');
    assert.equal(safeReturnPath('/api-key'), '/api-key');
    assert.equal(safeReturnPath('/disconnect?forget=yes'), '/disconnect?forget=yes');
    assert.equal(safeReturnPath('/%2F%2Fevil.example'), '/%2F%2Fevil.example', 'an encoded slash stays a path on this site');
    for (const value of [...OFFSITE, undefined, 42, ['/']]) assert.equal(safeReturnPath(value), '/', JSON.stringify(value));
  });

  it('comes back to the page a GET shows again, never with a query that holds a code or a handover', () => {
    assert.equal(switchReturnPath('/'), '/');
    assert.equal(switchReturnPath('/api-key'), '/api-key');
    assert.equal(switchReturnPath('/disconnect'), '/disconnect');
    assert.equal(switchReturnPath('/disconnect?forget=yes'), '/disconnect?forget=yes');
    assert.equal(switchReturnPath('/disconnect?forget=no&x=1'), '/disconnect');
    assert.equal(switchReturnPath('/callback?code=secret-code&state=s'), '/');
    assert.equal(switchReturnPath('/start?gatehouse_id_token=a.b.c'), '/');
    assert.equal(switchReturnPath('/settings?gatehouse_id_token=a.b.c'), '/');
    assert.equal(switchReturnPath('/no-such-page'), '/');
  });
});

describe('the language switch (POST /language)', () => {
  let partner: PartnerApp;
  let cookie: string;
  let csrf: string;

  before(async () => {
    partner = partnerApp();
    const home = await partner.app.inject({ method: 'GET', url: '/' });
    cookie = setCookies(home.headers)[0]!.split(';')[0]!;
    csrf = inputValue(home.body, '_csrf')!;
  });
  after(() => partner.app.close());

  const post = (fields: Record<string, string>, headers: Record<string, string> = {}) => partner.app.inject({
    method: 'POST', url: '/language', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: form(fields),
  });

  it('is on every page: a form posting the session\'s CSRF token and the page, a button per language named in that language', async () => {
    const home = await partner.app.inject({ method: 'GET', url: '/', headers: { cookie, 'accept-language': 'sv' } });
    assert.match(home.body, /<footer><form method="post" action="\/language"><input type="hidden" name="_csrf" value="[^"]+"><input type="hidden" name="return_to" value="\/">/);
    assert.match(home.body, /<nav class="languages" aria-label="Språk">/);
    assert.match(home.body, /<button type="submit" name="locale" value="sv" lang="sv" aria-current="true">Svenska<\/button>/);
    for (const [locale, name] of [['en', 'English'], ['da', 'Dansk'], ['nb', 'Norsk bokmål'], ['de', 'Deutsch'], ['fr', 'Français'], ['es', 'Español']]) {
      assert.match(home.body, new RegExp(`<button type="submit" name="locale" value="${locale}" lang="${locale}">${name}</button>`));
    }
    const notFound = await partner.app.inject({ method: 'GET', url: '/nowhere?x=1', headers: { cookie } });
    assert.equal(notFound.statusCode, 404);
    assert.match(notFound.body, /name="return_to" value="\/"/, 'a page a GET cannot show again comes back home');
    // A cookieless first visit gets a session for the switch's form (one cookie, not one per form).
    const first = await partner.app.inject({ method: 'GET', url: '/' });
    assert.equal(setCookies(first.headers).length, 1);
    assert.equal(new Set([...first.body.matchAll(/name="_csrf" value="([^"]+)"/g)].map((match) => match[1])).size, 1, 'one session behind every form of the page');
  });

  it('remembers the choice in an HttpOnly, SameSite=Lax cookie (no Secure on http in development) that wins over Accept-Language, and comes back', async () => {
    const chosen = await post({ _csrf: csrf, locale: 'fr', return_to: '/disconnect?forget=yes' }, { origin: 'http://127.0.0.1:8089' });
    assert.equal(chosen.statusCode, 303);
    assert.equal(chosen.headers.location, '/disconnect?forget=yes');
    const [languageCookie, ...others] = setCookies(chosen.headers);
    assert.deepEqual(others, []);
    assert.equal(languageCookie, 'ledgerly_lang=fr; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax');
    const page = await partner.app.inject({ method: 'GET', url: '/', headers: { cookie: `${cookie}; ledgerly_lang=fr`, 'accept-language': 'de' } });
    assert.match(page.body, /<html lang="fr">/);
    assert.match(page.body, /Connectez Ledgerly à votre entreprise Gatehouse/);
    assert.match(page.body, /value="fr" lang="fr" aria-current="true"/);
    assert.match(String(page.headers.vary), /cookie/i);
  });

  it('ignores an unknown language, posted or in the cookie: nothing is remembered, Accept-Language decides', async () => {
    for (const locale of ['xx', 'EN', 'de-AT', '', 'en; Path=/']) {
      const refused = await post({ _csrf: csrf, locale, return_to: '/api-key' });
      assert.equal(refused.statusCode, 303, locale);
      assert.equal(refused.headers.location, '/api-key');
      assert.deepEqual(setCookies(refused.headers), [], `${locale}: no cookie`);
    }
    const page = await partner.app.inject({ method: 'GET', url: '/', headers: { cookie: `${cookie}; ledgerly_lang=xx`, 'accept-language': 'es' } });
    assert.match(page.body, /<html lang="es">/);
  });

  it('never redirects off the site: an absolute, //host or /\\host return address (and every other trick) goes to /', async () => {
    for (const returnTo of OFFSITE) {
      const answer = await post({ _csrf: csrf, locale: 'da', return_to: returnTo });
      assert.equal(answer.statusCode, 303, JSON.stringify(returnTo));
      assert.equal(answer.headers.location, '/', JSON.stringify(returnTo));
    }
    const missing = await post({ _csrf: csrf, locale: 'da' });
    assert.equal(missing.headers.location, '/');
  });

  it('is a form like every other: without the session\'s CSRF token, or from another origin, it is refused (403) and remembers nothing', async () => {
    for (const [what, fields, headers] of [
      ['no token', { locale: 'de', return_to: '/' }, {}],
      ['a wrong token', { _csrf: `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`, locale: 'de', return_to: '/' }, {}],
      ['another origin', { _csrf: csrf, locale: 'de', return_to: '/' }, { origin: 'https://evil.example' }],
      ['no session', { _csrf: csrf, locale: 'de', return_to: '/' }, { cookie: 'ledgerly_session=unknown' }],
    ] as const) {
      const refused = await post(fields, headers);
      assert.equal(refused.statusCode, 403, what);
      assert.match(refused.body, /This form expired or did not come from this site/, what);
      assert.ok(!setCookies(refused.headers).some((value) => value.startsWith('ledgerly_lang=')), `${what}: no language remembered`);
      assert.equal(refused.headers.location, undefined, what);
    }
  });

  it('over https the cookie is __Host- and Secure', async () => {
    const secure = partnerApp('https://127.0.0.1:8089');
    try {
      const home = await secure.app.inject({ method: 'GET', url: '/' });
      const session = setCookies(home.headers)[0]!.split(';')[0]!;
      const chosen = await secure.app.inject({
        method: 'POST', url: '/language', headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ _csrf: inputValue(home.body, '_csrf')!, locale: 'nb', return_to: '/' }),
      });
      assert.equal(chosen.statusCode, 303);
      assert.deepEqual(setCookies(chosen.headers), ['__Host-ledgerly_lang=nb; Max-Age=31536000; Path=/; HttpOnly; Secure; SameSite=Lax']);
      const page = await secure.app.inject({ method: 'GET', url: '/', headers: { cookie: `${session}; __Host-ledgerly_lang=nb` } });
      assert.match(page.body, /<html lang="nb">/);
      const ignored = await secure.app.inject({ method: 'GET', url: '/', headers: { cookie: `${session}; ledgerly_lang=de` } });
      assert.match(ignored.body, /<html lang="en">/, 'over https only the __Host- cookie counts');
    } finally {
      await secure.app.close();
    }
  });
});
