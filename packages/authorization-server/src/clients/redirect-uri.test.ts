import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Environment } from '../options.ts';
import type { ClientType } from '../storage/storage.ts';
import { redirectUriProblem } from './redirect-uri.ts';

const ENVIRONMENTS: Environment[] = ['development', 'staging', 'production'];
const CLIENT_TYPES: ClientType[] = ['confidential', 'public'];

function accepted(uri: string, clientType: ClientType, environment: Environment): void {
  assert.equal(redirectUriProblem(uri, clientType, environment), undefined, `${uri} (${clientType}, ${environment}) should be accepted`);
}

function refused(uri: string, clientType: ClientType, environment: Environment, reason?: RegExp): void {
  const problem = redirectUriProblem(uri, clientType, environment);
  assert.equal(typeof problem, 'string', `${uri} (${clientType}, ${environment}) should be refused`);
  if (reason) assert.match(problem!, reason);
}

/** For every environment and client type. */
function everywhere(check: (clientType: ClientType, environment: Environment) => void): void {
  for (const environment of ENVIRONMENTS) for (const clientType of CLIENT_TYPES) check(clientType, environment);
}

describe('redirect URI registration (SPEC decision 4)', () => {
  it('accepts https URIs in every environment, for both client types (seeds: "Must use HTTPS in production")', () => {
    for (const uri of [
      'https://partner.example.com/oauth/callback',
      'https://partner.example.com:8443/oauth/callback',
      'https://partner.example.com/oauth/callback?tenant=42',
      'https://partner.example.com',
      'https://[2606:4700:4700::1111]/cb',
    ]) {
      everywhere((clientType, environment) => accepted(uri, clientType, environment));
    }
  });

  it('accepts http only for localhost, 127.0.0.1 and [::1] in development (seeds: "HTTP allowed only for localhost during development")', () => {
    for (const uri of ['http://localhost/cb', 'http://localhost:8080/callback', 'http://127.0.0.1:3000/cb', 'http://[::1]:3000/cb', 'http://[::1]/cb']) {
      for (const clientType of CLIENT_TYPES) accepted(uri, clientType, 'development');
    }
  });

  it('refuses other spellings of a loopback host, and port 0 (SPEC decision 4 names localhost, 127.0.0.1 and [::1] as written)', () => {
    for (const uri of ['http://0x7f000001/cb', 'http://127.1/cb', 'http://2130706433/cb', 'http://[0:0:0:0:0:0:0:1]/cb', 'http://[::0001]/cb', 'http://0177.0.0.1/cb']) {
      for (const environment of ['development', 'staging'] as const) {
        assert.equal(redirectUriProblem(uri, 'confidential', environment), 'must name the loopback host as localhost, 127.0.0.1 or [::1]', uri);
      }
    }
    assert.equal(redirectUriProblem('http://LOCALHOST:8080/cb', 'public', 'development'), undefined, 'a host name in capitals is the same name');
    for (const uri of ['http://127.0.0.1:0/cb', 'https://app.example:0/cb']) assert.equal(redirectUriProblem(uri, 'confidential', 'development'), 'must not use port 0', uri);
  });

  it('accepts http://localhost in staging too (SPEC §2: staging allows http://localhost redirect URIs)', () => {
    for (const uri of ['http://localhost:8080/callback', 'http://127.0.0.1:8080/callback', 'http://[::1]:8080/callback']) {
      for (const clientType of CLIENT_TYPES) accepted(uri, clientType, 'staging');
    }
  });

  it('refuses loopback http in production (SPEC §2: HTTPS only everywhere, no localhost redirect URIs)', () => {
    for (const uri of ['http://localhost:8080/callback', 'http://127.0.0.1/cb', 'http://[::1]:3000/cb']) {
      for (const clientType of CLIENT_TYPES) refused(uri, clientType, 'production', /https/);
    }
  });

  it('refuses localhost over https in production too (SPEC §2: "no localhost redirect URIs"; seeds: publicly accessible)', () => {
    for (const uri of ['https://localhost/cb', 'https://localhost:8443/cb', 'https://127.0.0.1/cb', 'https://[::1]/cb',
      // RFC 6761 §6.3: every name under localhost is loopback, and so is the absolute form.
      'https://app.localhost/cb', 'https://localhost./cb', 'https://a.b.localhost/cb', 'https://APP.LOCALHOST/cb']) {
      for (const clientType of CLIENT_TYPES) refused(uri, clientType, 'production');
    }
    // A public name that merely contains the word is a public host.
    for (const clientType of CLIENT_TYPES) assert.equal(redirectUriProblem('https://localhost.partner.example.com/cb', clientType, 'production'), undefined);
  });

  it('refuses http for any other host, in every environment (seeds: "Must use HTTPS")', () => {
    for (const uri of [
      'http://partner.example.com/cb',
      'http://localhost.partner.example.com/cb', // looks like localhost, is not
      'http://127.0.0.1.nip.io/cb',
      'http://127.0.0.2/cb',
      'http://10.0.0.1/cb',
      'http://[::2]/cb',
      'http://0.0.0.0/cb',
    ]) {
      everywhere((clientType, environment) => refused(uri, clientType, environment, /https/));
    }
  });

  it('refuses a fragment, even an empty one (RFC 6749 §3.1.2: "MUST NOT include a fragment component")', () => {
    for (const uri of ['https://partner.example.com/cb#section', 'https://partner.example.com/cb#', 'http://localhost:8080/cb#x', 'com.example.app:/cb#x']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment, /fragment/));
    }
  });

  it('refuses wildcards (seeds: "Must not use wildcards"; exact match only)', () => {
    for (const uri of ['https://*.partner.example.com/cb', 'https://partner.example.com/*', 'https://partner.example.com/cb?x=*', 'http://localhost:*/cb']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
    }
    refused('https://*.partner.example.com/cb', 'confidential', 'development', /wildcard/);
  });

  it('refuses a query naming a parameter the authorization response adds (RFC 6749 §3.1: never twice), in any spelling the form decoding reads as one', () => {
    everywhere((clientType, environment) => {
      for (const name of ['code', 'state', 'iss', 'error', 'error_description', 'error_uri']) {
        refused(`https://partner.example.com/cb?${name}=x`, clientType, environment, new RegExp(`named ${name}`));
        refused(`https://partner.example.com/cb?tenant=1&${name}`, clientType, environment, new RegExp(`named ${name}`));
      }
      refused('https://partner.example.com/cb?st%61te=evil', clientType, environment, /named state/);
      refused('https://partner.example.com/cb?x=1;state=evil', clientType, environment, /named state/); // `;` as a separator (HTML 4)
      accepted('https://partner.example.com/cb?flag&states=1&codes=2&x=state', clientType, environment);
    });
    refused('com.partner.app:/cb?iss=x', 'public', 'development', /named iss/);
  });

  it('refuses user information, including one that disguises the host (RFC 3986 §3.2.1, RFC 9700 §4.1)', () => {
    for (const uri of [
      'https://user:password@partner.example.com/cb',
      'https://user@partner.example.com/cb',
      'https://partner.example.com@evil.example/cb',
      'http://localhost@evil.example/cb',
      'http://localhost:8080@evil.example/cb',
      'https://:@partner.example.com/cb',
    ]) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
    }
    refused('https://user:password@partner.example.com/cb', 'confidential', 'development', /user information/);
  });

  it('refuses relative and empty URIs (RFC 6749 §3.1.2: "MUST be an absolute URI")', () => {
    for (const uri of ['/oauth/callback', 'oauth/callback', '//partner.example.com/cb', '?x=1', '', ' ', 'partner.example.com/cb']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
    }
    refused('/oauth/callback', 'confidential', 'development', /absolute/);
  });

  it('refuses white space anywhere in the URI (stored strings are compared exactly)', () => {
    for (const uri of [' https://partner.example.com/cb', 'https://partner.example.com/cb ', 'https://partner.example.com/c b', 'https://partner.example.com/c\tb', 'https://partner.example.com/c\nb']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
    }
  });

  it('refuses characters RFC 3986 does not allow (a backslash reads as a slash to a browser, so another host to a reader) and an empty authority', () => {
    for (const uri of ['https://app.example\\.evil.example/cb', 'https://app.example/cb\\x', 'https://app.example/cb?x=<y>', 'https://app.example/c|b', 'https://app.example/{cb}', 'https://app.example/c^b', 'https://app.example/c`b', 'https://app.example/c"b']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
      refused(uri, 'confidential', 'development', /only URI characters/);
    }
    for (const uri of ['https:///app.example/cb', 'http:///localhost:8080/cb']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
      refused(uri, 'confidential', 'development', /scheme:\/\/host/);
    }
    // Percent-encoded, they are path characters like any other.
    accepted('https://app.example/c%7Cb%5Cx', 'confidential', 'production');
  });

  it('refuses control characters and non-ASCII outside the host (RFC 3986 §2: percent-encoded), which no Location header can carry; an internationalized host still passes', () => {
    for (const uri of [
      'https://partner.example.com/cb\u0000', 'https://partner.example.com/cb\u0001', 'https://partner.example.com/c\u007Fb',
      'https://partner.example.com/caf\u00E9', 'https://partner.example.com/cb?x=\u20AC', 'http://localhost:8080/caf\u00E9',
    ]) {
      refused(uri, 'confidential', 'development', /percent-encode/);
    }
    refused('com.example.app:/caf\u00E9', 'public', 'development', /percent-encode/);
    accepted('https://b\u00FCcher.example/cb', 'confidential', 'production');
    accepted('https://partner.example.com/caf%C3%A9', 'confidential', 'production');
  });

  it('accepts a private-use reverse-domain scheme for public clients (RFC 8252 §7.1)', () => {
    for (const uri of ['com.example.app:/oauth2redirect', 'com.example.app:/cb', 'io.partner.mobile://callback']) {
      for (const environment of ENVIRONMENTS) accepted(uri, 'public', environment);
    }
  });

  it('refuses a private-use scheme for confidential clients (RFC 8252 §7.1: native apps are public clients)', () => {
    for (const environment of ENVIRONMENTS) refused('com.example.app:/cb', 'confidential', environment, /public/);
  });

  it('refuses javascript:, data:, file: and custom schemes that are not reverse domains (RFC 6749 §10.6, RFC 8252 §7.1)', () => {
    for (const uri of [
      'javascript:alert(document.cookie)',
      'JavaScript://partner.example.com/%0aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'file:///etc/passwd',
      'vbscript:msgbox(1)',
      'myapp://callback',
      'myapp:/callback',
      'ftp://partner.example.com/cb',
      'ws://localhost:8080/cb',
      'wss://partner.example.com/cb',
    ]) {
      everywhere((clientType, environment) => refused(uri, clientType, environment));
    }
    refused('myapp://callback', 'public', 'development', /scheme/);
  });
  it('accepts internationalized hosts written in one script (UTS #39 §5.1 single-script labels)', () => {
    for (const uri of [
      'https://b\u00FCcher.example/cb',
      'https://\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444/cb', // Cyrillic labels, Cyrillic TLD
      'https://\u043F\u0440\u0438\u043C\u0435\u0440.example/cb', // a Cyrillic label beside Latin ones
      'https://\u306D\u30AC\u6F22\u5B57.jp/cb', // Hiragana, Katakana and Han together are Japanese
      'https://xn--bcher-kva.example/cb',
      'https://shop-24.b\u00FCcher.example/cb',
    ]) {
      everywhere((clientType, environment) => accepted(uri, clientType, environment));
    }
  });

  it('refuses a host label that mixes scripts, also in punycode (UTS #39 §5.1: it passes for another host)', () => {
    for (const uri of [
      'https://p\u0430ypal.example/cb', // Cyrillic а in a Latin label
      'https://xn--pypal-4ve.example/cb', // the same, in punycode
      'https://\u0440\u0430\u0443pal.example/cb', // Cyrillic рау with Latin pal
      'https://partner.ex\u03B1mple.com/cb', // Greek α
      'http://l\u043Ecalhost:8080/cb', // Cyrillic о in localhost
    ]) {
      everywhere((clientType, environment) => refused(uri, clientType, environment, /mixes scripts/));
    }
  });

  it('refuses an http(s) URI whose host does not follow // (RFC 3986 §3.2; WHATWG would still find a host)', () => {
    for (const uri of ['https:partner.example.com/cb', 'https:/partner.example.com/cb', 'https:\\\\partner.example.com\\cb', 'https:b\u00FCcher.example/cb']) {
      everywhere((clientType, environment) => refused(uri, clientType, environment, /scheme:\/\/host/));
    }
  });
});

describe('remembered answers (the check is memoised)', () => {
  it('answers the same when asked again, per environment and client type', () => {
    for (let round = 0; round < 3; round++) {
      accepted('http://localhost:8080/cb', 'confidential', 'development');
      refused('http://localhost:8080/cb', 'confidential', 'production', /https in production/);
      accepted('com.example.app:/cb', 'public', 'production');
      refused('com.example.app:/cb', 'confidential', 'production', /only for public clients/);
      refused('https://partner.example.com/cb#x', 'public', 'staging', /fragment/);
    }
  });

  it('keeps answering correctly once more URIs were checked than it remembers', () => {
    for (let index = 0; index < 10_050; index++) accepted(`https://app-${index}.example.com/cb`, 'confidential', 'production');
    accepted('https://app-0.example.com/cb', 'confidential', 'production');
    refused('https://localhost/cb', 'confidential', 'production', /publicly accessible/);
    accepted('https://localhost/cb', 'confidential', 'development');
    refused('https://app-1.example.com/cb*', 'confidential', 'production', /wildcard/);
  });
});
