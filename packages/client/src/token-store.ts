/**
 * The token store contract: where connections and their (encrypted) tokens live. Implementations:
 * `stores/memory.ts`, `stores/sqlite.ts` (`node:sqlite`), `stores/postgres.ts`; all pass the shared
 * suite in `stores/token-store-contract.ts`.
 *
 * A store only ever sees ciphertext (`encryption.ts` seals tokens before they reach it), and both tokens
 * of a connection live in one row written by one statement (SPEC §3 integrator rules: "persist both
 * tokens atomically"). Every write that changes tokens bumps `version`; `replaceTokens` and
 * `markReauthorizationRequired` apply only to the row the caller read, at the version it read (its
 * `RowRevision`: `generation` and `version`), so a writer that lost a race (or a lock) can never overwrite
 * newer tokens, not even those of a connection deleted and saved again under the same id meanwhile.
 */

/** `active`: tokens present. `reauthorization_required`: the grant is gone, tokens deleted; the user must connect again. */
export type ConnectionStatus = 'active' | 'reauthorization_required';

/** One connection as stored. Times are epoch seconds. */
export interface StoredConnection {
  connectionId: string;
  /** The authorization server's issuer identifier (RFC 8414 §2). */
  issuer: string;
  clientId: string;
  /** `urn:<ns>:company:<uuid>` or `urn:<ns>:organization:<uuid>` (SPEC §2). */
  subjectUrn: string;
  /** Granted scope, space-separated as on the wire (RFC 6749 §3.3). */
  scope: string;
  status: ConnectionStatus;
  /** Why the status last changed (`invalid_grant: …`), or null. */
  statusReason: string | null;
  /** Ciphertexts (`encryption.ts`); null once deleted. */
  accessTokenCiphertext: string | null;
  refreshTokenCiphertext: string | null;
  /** When the access token expires (issue time + `expires_in`), or null when the server gave no `expires_in`. */
  accessTokenExpiresAt: number | null;
  /**
   * RFC 9449: the sealed private JWK (`dpop-key.ts`, field `dpop_private_key`) the tokens are bound to, or
   * null when they are Bearer tokens (or bound to a key the caller keeps). Deleted with the tokens.
   */
  dpopKeyCiphertext: string | null;
  /**
   * Starts at 1; +1 on every write. A connection deleted and saved again under the same `connectionId` starts at 1
   * again, as a new row with a new `generation`: the version check of a write also matches the generation.
   */
  version: number;
  /**
   * Which row this is: a random id the store assigns when `save` inserts a row (not when it replaces one, a
   * reconnect), so a row deleted and saved again under its id never matches what was read before the delete.
   * null for a row stored by an SDK version before it was added to the table. The SQL stores' database gives a row
   * an earlier SDK version inserts afterwards (its INSERT does not name the column) a generation of its own, so
   * after the upgrade no new row has null.
   */
  generation: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What `save` writes; the store assigns `version` and `generation` (and keeps `createdAt` of a row it replaces). */
export type NewStoredConnection = Omit<StoredConnection, 'version' | 'generation'>;

/**
 * What a conditional write expects the row to still be: the row the caller read (pass the `StoredConnection`
 * itself), matched by `generation` (null matches null only) and `version`.
 */
export type RowRevision = Pick<StoredConnection, 'generation' | 'version'>;

/** What a refresh writes: both tokens together. */
export interface TokenUpdate {
  accessTokenCiphertext: string;
  refreshTokenCiphertext: string;
  accessTokenExpiresAt: number | null;
  scope: string;
  updatedAt: number;
  /** RFC 9449: a DPoP key used for the first time with this refresh (it stays for the next ones); omitted = unchanged. */
  dpopKeyCiphertext?: string;
}

export interface TokenStore {
  /**
   * Inserts the connection (version 1, a new `generation`), or replaces the row with the same `connectionId`
   * (a reconnect), keeping its `createdAt` and `generation` and bumping its version.
   * @returns the row as stored.
   */
  save(connection: NewStoredConnection): Promise<StoredConnection>;
  get(connectionId: string): Promise<StoredConnection | undefined>;
  /** Every connection, ordered by `connectionId`. */
  list(): Promise<StoredConnection[]>;
  /**
   * Writes both tokens at once, if the row is still the one read (`expected`: its generation and version) and `active`.
   * @returns the new row, or undefined when the row changed, was deleted (and maybe saved again), is not active, or
   *   is gone (nothing written).
   */
  replaceTokens(connectionId: string, expected: RowRevision, update: TokenUpdate): Promise<StoredConnection | undefined>;
  /**
   * Sets status `reauthorization_required` with `reason`, and deletes both tokens, the DPoP key and the expiry in the
   * same write, if the row is still the one read (`expected`: its generation and version).
   * @returns the new row, or undefined when nothing was written.
   */
  markReauthorizationRequired(connectionId: string, expected: RowRevision, reason: string, at: number): Promise<StoredConnection | undefined>;
  /** @returns whether a row was deleted. */
  delete(connectionId: string): Promise<boolean>;
  /** Releases what the store opened itself (not a pool the caller passed in). */
  close(): Promise<void>;
}
