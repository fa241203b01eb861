import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostNameProblem, withAsciiHost } from './host-name.ts';

describe('host names in registered URIs', () => {
  it('replaces an internationalized host by its ASCII form and keeps the rest byte for byte', () => {
    assert.equal(withAsciiHost('https://b\u00FCcher.example/cb'), 'https://xn--bcher-kva.example/cb');
    assert.equal(withAsciiHost('https://B\u00DCCHER.example:8443/A%2fb/?flag&x=a%20b&y=a+b'), 'https://xn--bcher-kva.example:8443/A%2fb/?flag&x=a%20b&y=a+b');
    assert.equal(withAsciiHost('https://b%C3%BCcher.example/cb'), 'https://xn--bcher-kva.example/cb');
    assert.equal(withAsciiHost('https://b\u00FCcher.example:443/cb'), 'https://xn--bcher-kva.example:443/cb', 'a written port stays');
    assert.equal(withAsciiHost('https://b\u00FCcher.example'), 'https://xn--bcher-kva.example', 'no slash is added');
    assert.equal(withAsciiHost('http://\uFF4C\uFF4F\uFF43\uFF41\uFF4C\uFF48\uFF4F\uFF53\uFF54:3000/cb'), 'http://localhost:3000/cb', 'full-width letters fold');
  });

  it('leaves hosts written in ASCII, other schemes and unparsable strings untouched', () => {
    for (const uri of ['https://Partner.Example.com/CB', 'https://xn--bcher-kva.example/cb', 'http://[::1]:8080/cb', 'http://127.0.0.1/cb',
      'com.example.app:/cb', 'io.partner.mobile://b\u00FCcher/cb', 'not a uri']) {
      assert.equal(withAsciiHost(uri), uri);
    }
  });

  it('names a host label that mixes scripts, in Unicode or punycode (UTS #39 §5.1)', () => {
    assert.match(hostNameProblem('https://p\u0430ypal.example/cb') ?? '', /mixes scripts \(p\u0430ypal/);
    assert.match(hostNameProblem('https://xn--pypal-4ve.example/cb') ?? '', /mixes scripts/);
    for (const uri of ['https://b\u00FCcher.example/cb', 'https://\u65E5\u672C\u8A9E.jp/cb', 'https://\u043F\u0440\u0438\u043C\u0435\u0440.example/cb', 'https://[2001:db8::1]/cb', 'com.example.app:/cb']) {
      assert.equal(hostNameProblem(uri), undefined, uri);
    }
  });
});
