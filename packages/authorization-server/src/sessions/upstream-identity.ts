/**
 * Sign-in through the platform's OpenID Provider (issue 10 §2), as a relying party built on openid-client:
 * authorization code with PKCE (S256), `state`, `nonce`, the `iss` response parameter (RFC 9207) and ID
 * token validation — signature included (`enableNonRepudiationChecks`), against the provider's JWKS —
 * are all openid-client's; nothing here parses or checks a token by hand.
 *
 * The transaction (state, nonce, code_verifier, return_to) travels in a short-lived cookie encrypted and
 * authenticated with A256GCM (JWE `dir`, a key derived from the token HMAC key): the browser can neither
 * read nor alter it. `gatehouse_upstream`, `__Host-gatehouse_upstream` outside development (http/host-cookies.ts),
 * HttpOnly, SameSite=Lax (sent on the provider's top-level redirect back), 10 minutes. It is cleared
 * when the callback arrives, whatever the outcome; a replayed callback finds no transaction, and the
 * provider's code is single use anyway (RFC 6749 §4.1.2).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EncryptJWT, jwtDecrypt } from 'jose';
import * as oidc from 'openid-client';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import type { UpstreamIdentityProvider } from '../options.ts';
import type { ServerContext } from '../server-context.ts';
import { derivedKey } from '../tokens/derived-key.ts';

export const UPSTREAM_COOKIE = 'gatehouse_upstream';
/** How long a started upstream sign-in may take, in seconds. */
export const UPSTREAM_TRANSACTION_LIFETIME_SECONDS = 600;
/** Where the provider sends the browser back: registered there as `<issuer>/login/upstream/callback`. */
export const UPSTREAM_CALLBACK_PATH = '/login/upstream/callback';
/** Seconds openid-client waits for each request to the provider. */
const UPSTREAM_TIMEOUT_SECONDS = 10;

/** What the callback needs to finish one sign-in. */
export interface UpstreamTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where to continue after sign-in (login.ts RETURN_TO). */
  returnTo: string;
  /** When a fresh authentication was asked of the provider (`prompt=login`, `max_age=0`): our clock, seconds. */
  reauthenticateSince?: number;
}

/** The configured provider, or undefined when Gatehouse signs in with passwords only. */
export const upstreamProvider = (context: ServerContext): UpstreamIdentityProvider | undefined => context.options.upstreamIdentityProvider ?? undefined;

/** Whether the e-mail and password form is offered (always, without an upstream provider). */
export const localPasswordsEnabled = (context: ServerContext): boolean => upstreamProvider(context)?.localPasswords !== false;

export const upstreamRedirectUri = (context: ServerContext) => `${context.options.issuer}${UPSTREAM_CALLBACK_PATH}`;

const cookieName = (context: ServerContext) => hostCookieName(context.options.environment, UPSTREAM_COOKIE);

/** Discovery results, one per server (a failed discovery is forgotten, so the next sign-in tries again). */
const configurations = new WeakMap<ServerContext, Promise<oidc.Configuration>>();

/**
 * The provider's configuration from its discovery document (OpenID Connect Discovery §4: its `issuer`
 * must equal the configured one), fetched once per server.
 * @throws whatever openid-client throws when the provider is unreachable or its metadata is wrong.
 */
export function upstreamConfiguration(context: ServerContext, upstream: UpstreamIdentityProvider): Promise<oidc.Configuration> {
  let configuration = configurations.get(context);
  if (!configuration) {
    const execute: ((config: oidc.Configuration) => void)[] = [oidc.enableNonRepudiationChecks];
    // SPEC decision 17: plain http only in development (options.ts refuses it elsewhere).
    if (new URL(upstream.issuer).protocol === 'http:') execute.push(oidc.allowInsecureRequests);
    configuration = oidc.discovery(
      new URL(upstream.issuer), upstream.clientId, undefined, oidc.ClientSecretBasic(upstream.clientSecret),
      { execute, timeout: UPSTREAM_TIMEOUT_SECONDS, ...(upstream.fetch ? { [oidc.customFetch]: upstream.fetch } : {}) },
    );
    configurations.set(context, configuration);
    configuration.catch(() => configurations.delete(context));
  }
  return configuration;
}

/** A key of its own for the transaction cookie, derived from the token HMAC key (HKDF-SHA-256). */
function transactionKey(context: ServerContext): Uint8Array {
  return new Uint8Array(derivedKey(context.options.tokenHmacKey, 'gatehouse upstream sign-in transaction'));
}

/** Encrypts the transaction into the cookie (replacing any earlier one: one sign-in at a time per browser). */
export async function saveUpstreamTransaction(context: ServerContext, reply: FastifyReply, transaction: UpstreamTransaction): Promise<void> {
  const now = context.clock.nowSeconds();
  const value = await new EncryptJWT({ ...transaction })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(now)
    .setExpirationTime(now + UPSTREAM_TRANSACTION_LIFETIME_SECONDS)
    .encrypt(transactionKey(context));
  reply.setCookie(cookieName(context), value, hostCookieOptions(context.options.environment, 'lax', UPSTREAM_TRANSACTION_LIFETIME_SECONDS));
}

/**
 * Reads and clears the transaction cookie (single use).
 * @returns the transaction, or undefined when the cookie is missing, altered, from another key or expired.
 */
export async function takeUpstreamTransaction(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<UpstreamTransaction | undefined> {
  const value = request.cookies[cookieName(context)];
  reply.clearCookie(cookieName(context), hostCookieOptions(context.options.environment, 'lax'));
  if (!value || value.length > 4096) return undefined;
  try {
    const { payload } = await jwtDecrypt(value, transactionKey(context), {
      currentDate: new Date(context.clock.nowSeconds() * 1000), keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'],
    });
    const { state, nonce, codeVerifier, returnTo, reauthenticateSince } = payload;
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' || typeof returnTo !== 'string') return undefined;
    return { state, nonce, codeVerifier, returnTo, ...(typeof reauthenticateSince === 'number' ? { reauthenticateSince } : {}) };
  } catch {
    return undefined;
  }
}
