/**
 * The rule for the hosts Gatehouse treats as public: a redirect URI's host in production (redirect-uri.ts) and
 * where the server sends requests of its own (webhook deliveries) in staging and production
 * (webhooks/webhook-secret.ts privateWebhookTargetsAllowed): public unicast addresses only, never the platform's
 * own network (SSRF). A webhook URL's host is checked by name when it is registered (webhook-secret.ts);
 * A delivery checks the addresses the name resolves to with `isPublicAddress` and connects to those only
 * (webhooks/webhook-worker.ts `post`, which resolves through its own lookup slot), so a public name that resolves
 * (or is later rebound) to a private address is not connected to; `publicAddressesOnly` is that check as a
 * `lookup` for a connection that resolves for itself.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** RFC 4291 §2.4 and IANA's IPv6 address space registry: 2000::/3 is the only block allocated for global unicast. */
const IPV6_GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * Whether an IP address (no brackets) is a public unicast address: not loopback, private (RFC 1918,
 * RFC 4193), link-local, carrier-grade NAT (RFC 6598), unspecified, multicast, broadcast or reserved.
 * An IPv4-mapped IPv6 address is judged as its IPv4 address. The ranges are ipaddr.js's table; an IPv6 address
 * must also be in 2000::/3.
 */
export function isPublicAddress(address: string): boolean {
  if (isIP(address) === 0) return false;
  // Never a throw: this runs inside a DNS callback (a throw there would end the process); unparsable is not public.
  try {
    const parsed = ipaddr.process(address);
    if (parsed.range() !== 'unicast') return false;
    // ipaddr.js calls the rest of ::/8 'unicast', among them the IPv4-compatible ::a.b.c.d (deprecated, RFC 4291
    // §2.5.5.1): `::7f00:1` is 127.0.0.1 to a stack that still routes them, yet passed where `::127.0.0.1` did not.
    return parsed.kind() === 'ipv4' || (parsed as ipaddr.IPv6).match(IPV6_GLOBAL_UNICAST);
  } catch {
    return false;
  }
}

/** The error a refused address gives the connection (the delivery counts as failed: status 0, retried later). */
export class NonPublicAddressError extends Error {
  readonly code = 'ENOTPUBLIC';
  /** The name (or literal) that was refused. */
  readonly hostname: string;
  constructor(hostname: string) {
    super('the host resolves to an address that is not public (loopback, private, link-local or reserved)');
    this.name = 'NonPublicAddressError';
    this.hostname = hostname;
  }
}

/**
 * A `lookup` for `http.request`/`net.connect`: resolves like the default (`dns.lookup`) and fails with
 * NonPublicAddressError when any address the name resolves to is not public, so the connection is never
 * opened. The addresses checked are the ones connected to: no second resolution a rebinding name could change.
 */
export const publicAddressesOnly: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
    if (error) return callback(error, options.all ? [] : '');
    if (addresses.length === 0 || addresses.some((entry) => !isPublicAddress(entry.address))) return callback(new NonPublicAddressError(hostname), options.all ? [] : '');
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};
