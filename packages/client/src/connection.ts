/**
 * A connection: one user's authorization of this client for one subject (a company or an
 * organization, SPEC §3 "Subjects"), with its tokens kept in the token store. The public view carries
 * no token; `ConnectionTokens` carries them where a caller asked for them, and hides them from
 * `console.log`, `util.inspect` and `JSON.stringify`.
 */
import { inspect } from 'node:util';
import { parseSubjectUrn, type SubjectType } from '@gatehouse/protocol';
import { tokenFingerprint } from './logging.ts';
import type { ConnectionStatus, StoredConnection } from './token-store.ts';

/** The protocol vocabulary (SPEC §2), from `@gatehouse/protocol`; re-exported for the SDK's users. */
export { parseSubjectUrn, type SubjectType } from '@gatehouse/protocol';

/** A connection without its tokens. Times are epoch seconds. */
export interface Connection {
  readonly connectionId: string;
  readonly issuer: string;
  readonly clientId: string;
  /** `urn:<ns>:company:<uuid>` or `urn:<ns>:organization:<uuid>` (SPEC §2). */
  readonly subjectUrn: string;
  readonly subjectType: SubjectType;
  /** The company or organization UUID. */
  readonly subjectId: string;
  /** Granted scopes (RFC 6749 §3.3), e.g. `['users:read', 'vendors:read']`. */
  readonly scope: readonly string[];
  readonly status: ConnectionStatus;
  /** Why the status last changed, e.g. `invalid_grant: the authorization was revoked`; null while active. */
  readonly statusReason: string | null;
  /** When the current access token expires; null when unknown or deleted. */
  readonly accessTokenExpiresAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The public view of a stored row. */
export function toConnection(row: StoredConnection, urnNamespace: string): Connection {
  const subject = parseSubjectUrn(urnNamespace, row.subjectUrn);
  return {
    connectionId: row.connectionId,
    issuer: row.issuer,
    clientId: row.clientId,
    subjectUrn: row.subjectUrn,
    subjectType: subject?.subjectType ?? 'company',
    subjectId: subject?.subjectId ?? '',
    scope: row.scope.split(' ').filter(Boolean),
    status: row.status,
    statusReason: row.statusReason,
    accessTokenExpiresAt: row.accessTokenExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * Tokens handed to a caller. The values are readable properties, but printing, inspecting or
 * serializing the object shows fingerprints only, so a stray log line does not leak them.
 */
export class ConnectionTokens {
  declare readonly accessToken: string;
  declare readonly refreshToken: string;
  /** Epoch seconds, or null when the server gave no `expires_in`. */
  readonly accessTokenExpiresAt: number | null;

  constructor(accessToken: string, refreshToken: string, accessTokenExpiresAt: number | null) {
    // Non-enumerable: spreads and Object.entries do not copy the values either.
    Object.defineProperty(this, 'accessToken', { value: accessToken, enumerable: false });
    Object.defineProperty(this, 'refreshToken', { value: refreshToken, enumerable: false });
    this.accessTokenExpiresAt = accessTokenExpiresAt;
  }

  toJSON(): Record<string, unknown> {
    return {
      access_token_fingerprint: tokenFingerprint(this.accessToken),
      refresh_token_fingerprint: tokenFingerprint(this.refreshToken),
      access_token_expires_at: this.accessTokenExpiresAt,
    };
  }

  [inspect.custom](): string {
    return `ConnectionTokens ${JSON.stringify(this.toJSON())}`;
  }

  toString(): string {
    return this[inspect.custom]();
  }
}
