/**
 * Cookie names and attributes (issue 11 item 25). Outside development every cookie Gatehouse sets uses
 * the `__Host-` prefix (RFC 6265bis §4.1.3.2): the browser accepts it only with `Secure`, `Path=/` and no
 * `Domain`, so neither a sibling subdomain nor a plain-HTTP page can set or overwrite it. Development
 * (HTTP on localhost) keeps plain names, which browsers would refuse with the prefix over HTTP.
 */
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { Environment } from '../options.ts';

/** `name` in development; `__Host-<name>` elsewhere. */
export function hostCookieName(environment: Environment, name: string): string {
  return environment === 'development' ? name : `__Host-${name}`;
}

/**
 * The attributes the `__Host-` prefix requires (`Path=/`, `Secure` outside development, never a
 * `Domain`), HttpOnly, with `sameSite` and an optional `maxAge` in seconds.
 */
export function hostCookieOptions(environment: Environment, sameSite: 'lax' | 'strict', maxAgeSeconds?: number): CookieSerializeOptions {
  return {
    path: '/', httpOnly: true, sameSite, secure: environment !== 'development',
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}
