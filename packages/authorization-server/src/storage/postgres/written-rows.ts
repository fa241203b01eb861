/**
 * What this instance wrote itself, remembered so that the read before a hot write costs no round trip on
 * PostgreSQL (issue 12, "PostgreSQL in one round trip"). The code exchange and the refresh each read a row
 * (the code; the refresh token with its grant), check it in JavaScript, mint tokens from it (the JWT access
 * token carries the grant's subject and scope), and then write in ONE statement. The write depends on what
 * was read, so the two cannot be one statement; but the row the next exchange or refresh reads was, on the
 * hot path, written by this very instance a moment before (the code by the authorization endpoint, the
 * refresh token by the previous rotation or the exchange), so its fields are known here. (With opaque
 * access tokens and no `resource` parameter the exchange no longer reads first: `grants.exchangeReadyCode`
 * checks the code in its one statement, whichever instance wrote it; the remembered codes serve JWT access
 * tokens and resource-bound requests.)
 *
 * Why an answer from here is safe: every field the checks read is immutable once written (client, subject,
 * scope, redirect_uri, challenge, expiry, DPoP key, resources) except the state a write changes (a code's
 * consumed_at; a token's rotated_at, revoked_at; the grant's revoked_at). The write that follows re-checks
 * that state in SQL under its row lock (`gatehouse_redeem_code`'s single use; the rotation's compare-and-
 * swap, SPEC decision 8) and answers `replayed` / `not_current` when it changed, which the protocol layer
 * handles exactly as when a concurrent request won between its fresh read and its write: a remembered row
 * only moves the moment of the read earlier, to the write that produced it, and every interleaving it allows
 * is one a fresh read allows too. This instance forgets a row before its own next write to it (a code before
 * its redemption, a refresh token at its rotation, a grant's tokens at `grants.revoke` and
 * `revokeAllOfClient`), so what is answered late is a change made by another instance, or a grant revoked by
 * another path (superseded by a newer exchange, a directory change): a code redeemed there reads as a lost
 * race (`replayed`), a token rotated there as reuse (the grace window still answers a retry), a grant
 * revoked so as reuse of a revoked grant (invalid_grant "already used; the authorization is revoked"
 * instead of "the authorization was revoked"; nothing more is revoked and no audit event is written: the
 * revocation finds the grant already revoked).
 *
 * The consent decision reads its interaction from here too (the consent page of this instance stored it):
 * an interaction is immutable but for its consumed_at, which the decision's one statement re-checks under
 * the row lock with its session (`interactions.consumeWithCode`).
 *
 * Introspection never reads from here (RFC 7662: its answer is the token's state now); nor does anything
 * that is not followed by such a compare-and-swap. No secret is kept: codes and tokens by digest only
 * (SPEC decision 9). Bounded: the oldest entries are dropped first; a miss costs the ordinary read.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { AuthorizationCodeRecord, GrantRecord, InteractionRecord, TokenRecord } from '../storage.ts';

/**
 * Codes and refresh tokens remembered, each (under 1 KB an entry; a grant record is shared by its tokens).
 * Oldest dropped first: more grants refreshed in turn than this would all miss. That is room for a few
 * minutes of a busy instance's grants, not for an access token's lifetime: a refresh that comes later (the
 * usual case, and the full bench's, whose exchange phase now issues some 30,000 grants) reads its token
 * with the batched lookup (stores/tokens.ts) instead.
 */
const MAX_ENTRIES = 20_000;

export interface WrittenRows {
  rememberCode(code: AuthorizationCodeRecord): void;
  /**
   * The code as written, if this instance wrote it and has not redeemed it since (expired or not: the
   * caller checks the expiry as it does on a row it read).
   */
  code(codeDigest: string): AuthorizationCodeRecord | undefined;
  forgetCode(codeDigest: string): void;
  /** `token` must be a current refresh token (not rotated, not revoked) of the unrevoked `grant`. */
  rememberRefreshToken(token: TokenRecord, grant: GrantRecord): void;
  refreshToken(tokenDigest: string): { token: TokenRecord; grant: GrantRecord } | undefined;
  /** Forgets the token and returns what was remembered of it. */
  takeRefreshToken(tokenDigest: string): { token: TokenRecord; grant: GrantRecord } | undefined;
  forgetGrant(grantId: string): void;
  forgetAllGrants(): void;
  /**
   * A consent interaction this instance stored (`interactions.createInSession`) with its session's user,
   * for `interactions.peek`; forgotten when this instance consumes it. Its consume re-checks everything
   * (unused, unexpired, the session active, its user the code's) under the row lock.
   */
  rememberInteraction(interaction: InteractionRecord, userId: string): void;
  interaction(interactionDigest: string): { interaction: InteractionRecord; userId: string } | undefined;
  forgetInteraction(interactionDigest: string): void;
}

const memories = new WeakMap<SqlDriver, WrittenRows>();

/** The one memory of the storage instance that owns `db` (the stores of one backend share it). */
export function writtenRowsOf(db: SqlDriver): WrittenRows {
  let memory = memories.get(db);
  if (!memory) {
    memory = createWrittenRows();
    memories.set(db, memory);
  }
  return memory;
}

function createWrittenRows(): WrittenRows {
  const codes = new Map<string, AuthorizationCodeRecord>();
  const interactions = new Map<string, { interaction: InteractionRecord; userId: string }>();
  const refreshTokens = new Map<string, { token: TokenRecord; grant: GrantRecord }>();
  /** grant id → the digest of its remembered refresh token (one current refresh token per grant). */
  const refreshTokenOfGrant = new Map<string, string>();
  const forgetRefreshToken = (tokenDigest: string) => {
    const entry = refreshTokens.get(tokenDigest);
    if (!entry) return undefined;
    refreshTokens.delete(tokenDigest);
    if (refreshTokenOfGrant.get(entry.grant.grantId) === tokenDigest) refreshTokenOfGrant.delete(entry.grant.grantId);
    return entry;
  };
  return {
    rememberCode(code) {
      codes.set(code.codeDigest, code);
      if (codes.size > MAX_ENTRIES) codes.delete(codes.keys().next().value!);
    },
    code(codeDigest) {
      return codes.get(codeDigest);
    },
    forgetCode(codeDigest) {
      codes.delete(codeDigest);
    },
    rememberRefreshToken(token, grant) {
      const previous = refreshTokenOfGrant.get(grant.grantId);
      if (previous !== undefined) forgetRefreshToken(previous);
      refreshTokens.set(token.tokenDigest, { token, grant });
      refreshTokenOfGrant.set(grant.grantId, token.tokenDigest);
      if (refreshTokens.size > MAX_ENTRIES) forgetRefreshToken(refreshTokens.keys().next().value!);
    },
    refreshToken(tokenDigest) {
      return refreshTokens.get(tokenDigest);
    },
    takeRefreshToken: forgetRefreshToken,
    forgetGrant(grantId) {
      const tokenDigest = refreshTokenOfGrant.get(grantId);
      if (tokenDigest !== undefined) forgetRefreshToken(tokenDigest);
    },
    forgetAllGrants() {
      refreshTokens.clear();
      refreshTokenOfGrant.clear();
    },
    rememberInteraction(interaction, userId) {
      interactions.set(interaction.interactionDigest, { interaction, userId });
      if (interactions.size > MAX_ENTRIES) interactions.delete(interactions.keys().next().value!);
    },
    interaction(interactionDigest) {
      return interactions.get(interactionDigest);
    },
    forgetInteraction(interactionDigest) {
      interactions.delete(interactionDigest);
    },
  };
}
