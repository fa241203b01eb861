/**
 * Issue 15 §5: a client's Standard Webhooks signing secret (`whsec_` + base64 of 32 random bytes). The
 * server must sign with it, so it cannot be kept only as a digest: it is stored encrypted with
 * AES-256-GCM under a key derived with HKDF-SHA-256 from the token HMAC key (as users/second-factor.ts
 * does for TOTP secrets), the client id as additional data, so a ciphertext moved to another client fails.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { isLoopbackHttpUrl } from '@gatehouse/protocol';
import { isPublicHostname } from '../clients/redirect-uri.ts';
import { derivedKey } from '../tokens/derived-key.ts';

/** The AES-256-GCM key for webhook secrets, derived from the token HMAC key (never the key itself). */
export function webhookSecretKey(tokenHmacKey: Buffer): Buffer {
  return derivedKey(tokenHmacKey, 'gatehouse webhook secret');
}

/** A new signing secret in the Standard Webhooks format: `whsec_<base64 of 32 random bytes>`. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export function encryptWebhookSecret(key: Buffer, clientId: string, secret: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(clientId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', nonce, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** @throws when the ciphertext was altered, belongs to another client, or the key changed. */
export function decryptWebhookSecret(key: Buffer, clientId: string, stored: string): string {
  const [version, nonce, ciphertext, tag] = stored.split('.');
  if (version !== 'v1' || !nonce || ciphertext === undefined || !tag) throw new Error('unknown webhook secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
  decipher.setAAD(Buffer.from(clientId));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/**
 * Whether webhook URLs may name, and deliveries may connect to, hosts that are not public (loopback, private,
 * link-local, the cloud metadata address 169.254.169.254, reserved): only in development (tests and `npm start`
 * deliver to receivers on 127.0.0.1), or in staging when the operator opts in with
 * `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true` (`allowPrivateAddresses`). Staging and production otherwise
 * allow public addresses only: a partner's webhook must not reach into the platform's own network (an SSRF whose
 * delivery log reads back what answered). Production never allows them, whatever `allowPrivateAddresses` says
 * (the configuration refuses it there at startup). An unknown environment counts as production.
 */
export function privateWebhookTargetsAllowed(environment: string | undefined, allowPrivateAddresses = false): boolean {
  return environment === 'development' || (environment === 'staging' && allowPrivateAddresses);
}

/** The environment rule webhookUrlProblem applies (see privateWebhookTargetsAllowed). */
export interface WebhookTargetRule {
  environment: string;
  /** `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES` (staging only); default false. */
  allowPrivateAddresses?: boolean;
}

/**
 * Issue 15 §5: a webhook URL must be absolute https, without credentials or fragment, and (but where
 * privateWebhookTargetsAllowed) on a public host; http only for a loopback host where private targets are
 * allowed. @returns the problem, or undefined when the URL is acceptable.
 */
export function webhookUrlProblem(value: unknown, environment: string, allowPrivateAddresses = false): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return 'url must be a string of at most 2048 characters';
  // Stored as given: a NUL reached PostgreSQL, whose text cannot hold it (a 500, SPEC decision 18); no URL needs one.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this check's purpose
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'url must not contain control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url must be an absolute URL';
  }
  if (url.username || url.password) return 'url must not contain credentials';
  if (url.hash) return 'url must not contain a fragment';
  const privateAllowed = privateWebhookTargetsAllowed(environment, allowPrivateAddresses);
  // Staging and production: deliveries go to the partner's public endpoint, never into the platform's own network. The
  // host is judged by name here (IP literals in any spelling the URL parser accepts, IPv4-mapped IPv6 as its IPv4); a
  // public name that resolves privately is caught when a delivery connects (webhook-worker.ts, clients/public-address.ts).
  if (url.protocol === 'https:') return privateAllowed || isPublicHostname(url.hostname) ? undefined : 'url must be a public address (no localhost, private, link-local or metadata addresses)';
  if (isLoopbackHttpUrl(url) && privateAllowed) return undefined;
  return privateAllowed ? 'url must use https (http only for localhost, 127.0.0.1 or [::1])' : 'url must use https (http only for localhost, 127.0.0.1 or [::1] on a development server)';
}

/**
 * A webhook URL as audit events record it: scheme, host, port and path, with a query (and a fragment, which
 * webhookUrlProblem refuses anyway) replaced by `[redacted]`, user information never. Partners put credentials in the
 * query (`https://hooks.example/in?token=…`) for receivers that cannot check a signature; the audit log is read by every
 * administrator, exported, streamed to a SIEM and kept forever by default, and holds no secret (SPEC decision 19). The
 * URL is stored and delivered to whole, and the partner's own webhook page shows it whole. A URL that does not parse
 * (none is stored: webhookUrlProblem) is recorded as `[redacted]`.
 */
export function webhookUrlForAudit(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '[redacted]';
  }
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?[redacted]' : ''}${url.hash ? '#[redacted]' : ''}`;
}
