/**
 * Production's public-address rule (clients/public-address.ts): which IP addresses count as public, and
 * the connection-time lookup that refuses a name resolving to anything else (webhook deliveries: SSRF).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { isPublicAddress, publicAddressesOnly } from './public-address.ts';
import { isPublicHostname } from './redirect-uri.ts';

describe('public addresses (production: redirect URIs, webhook deliveries)', () => {
  it('public unicast addresses only: never loopback, private, link-local, CGNAT, unspecified, multicast or IPv4-mapped private', () => {
    for (const address of ['8.8.8.8', '203.0.114.7', '2606:4700:4700::1111']) assert.equal(isPublicAddress(address), true, address);
    for (const address of [
      '127.0.0.1', '10.0.0.5', '172.16.3.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
      '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'ff02::1', 'not-an-address', '',
    ]) assert.equal(isPublicAddress(address), false, address);
  });

  it('the edges of each range: all of fc00::/7 and fe80::/10, 100.64.0.0/10, 0.0.0.0/8, 198.18.0.0/15 (benchmarking); IPv4-compatible, NAT64 and 6to4 forms of 127.0.0.1', () => {
    for (const address of ['198.17.255.254', '198.20.0.1', '100.63.255.254', '100.128.0.1', '1.0.0.1', '2a00:1450:4001::1', '3fff:ffff::1']) assert.equal(isPublicAddress(address), true, address);
    for (const address of [
      'fc00::1', 'fdff:ffff:ffff::1', 'fe80::1', 'febf:ffff::1', '100.64.0.0', '100.127.255.254', '0.1.2.3', '0.255.255.255', '198.18.0.1', '198.19.255.254',
      '::ffff:7f00:1', '::ffff:a9fe:a9fe', '0:0:0:0:0:ffff:7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1',
      // IPv4-compatible (::/96, deprecated by RFC 4291 §2.5.5.1): ipaddr.js calls it unicast; outside 2000::/3, so not public.
      '::7f00:1', '::a9fe:a9fe', '4000::1',
    ]) assert.equal(isPublicAddress(address), false, address);
  });

  it('a URL host: IP literals judged by the same table (CGNAT and IPv4-mapped literals refused too)', () => {
    for (const host of ['partner.example', '8.8.8.8', '[2606:4700:4700::1111]']) assert.equal(isPublicHostname(host), true, host);
    for (const host of ['localhost', 'app.localhost', '127.0.0.1', '[::1]', '10.1.2.3', '100.64.1.1', '[::ffff:7f00:1]', '[fd12::1]', '169.254.169.254']) {
      assert.equal(isPublicHostname(host), false, host);
    }
  });

  it('the connection-time lookup refuses a name that resolves to a loopback address: no connection is opened', async () => {
    let connections = 0;
    const receiver = createServer((_request, response) => response.end());
    receiver.on('connection', () => connections++);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    try {
      // `localhost` is a name here (not a literal): its addresses go through the lookup, as a partner's name would.
      const error = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
        const outgoing = request({ host: 'localhost', port, method: 'POST', lookup: publicAddressesOnly, agent: false }, () => reject(new Error('answered')));
        outgoing.on('error', resolve);
        outgoing.end('{}');
      });
      assert.equal(error.code, 'ENOTPUBLIC');
      assert.equal(connections, 0, 'the receiver saw no connection');
      // The same request without the rule reaches it (the test's receiver is really there).
      const status = await new Promise<number>((resolve, reject) => {
        const outgoing = request({ host: 'localhost', port, method: 'POST', agent: false, family: 4 }, (response) => resolve(response.statusCode ?? 0));
        outgoing.on('error', reject);
        outgoing.end('{}');
      });
      assert.equal(status, 200);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
