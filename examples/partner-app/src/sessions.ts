/**
 * Browser sessions of the partner app, kept on the server: the browser holds only an opaque, random
 * session ID in an HttpOnly cookie (SPEC §3 integrator rules: tokens never in browser storage). The
 * session knows the connection ID and, during a connect, the authorization transaction — never a token.
 * Sessions are looked up by the SHA-256 of their ID, so the map itself holds no usable cookie value.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthorizationTransaction } from '@gatehouse/client';

export interface Session {
  /** Anti-CSRF token of this session's forms. */
  readonly csrfToken: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** The Gatehouse connection of this browser's account, once connected (changed through the store only). */
  readonly connectionId: string | undefined;
  /** The pending authorization request (state, code verifier) between "Connect" and the callback (changed through the store only). */
  readonly transaction: AuthorizationTransaction | undefined;
}

export interface SessionStore {
  /** @returns the new session and the cookie value to send. */
  create(nowSeconds: number, carried?: Pick<Session, 'connectionId'>): { id: string; session: Session };
  find(id: string | undefined, nowSeconds: number): Session | undefined;
  delete(id: string): void;
  /**
   * Starts a connect: keeps `transaction` in the session. A session already in use (connected, or connecting)
   * always may; an anonymous one only while fewer than `maxSessions` sessions are in use, after dropping
   * those whose transaction expired (unconnected ones are deleted; a connected one only loses its transaction).
   * @returns false, changing nothing, when that bound is reached: the caller refuses the connect (503).
   */
  beginTransaction(session: Session, transaction: AuthorizationTransaction, nowSeconds: number): boolean;
  /** Takes the session's transaction (one transaction, one callback). */
  takeTransaction(session: Session): AuthorizationTransaction | undefined;
  /** The session's connection is gone (deleted elsewhere): the session is connected no more. */
  forgetConnection(session: Session): void;
  /** Sessions held now (live, or expired and not yet dropped). */
  readonly size: number;
  /** Sessions in use (connecting or connected) held now. */
  readonly inUse: number;
}

/** Default most sessions held at once, per kind. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** How long a connect may take, as the SDK's `transactionLifetimeSeconds` default. */
export const DEFAULT_TRANSACTION_LIFETIME_SECONDS = 600;

type MutableSession = { -readonly [K in keyof Session]: Session[K] };

/**
 * Every cookieless visit to a page with a form gets a session (its CSRF token), so the map is bounded. Two
 * kinds are bounded apart, `maxSessions` each, each kind kept in its own map in least recently used order
 * (so counting is the map's size, and the session to drop is its first): anonymous sessions (no
 * authorization transaction, no connection: anyone can make them, by visiting without a cookie), and
 * sessions in use (a connect under way, or connected).
 *
 * A new anonymous session drops the least recently used anonymous one when that kind is full. A session
 * comes into use only through `beginTransaction`, which never evicts a session in use: it drops only
 * sessions whose transaction expired (the earliest started first, `transactionLifetimeSeconds` after it
 * started), and when `maxSessions` are still in use it refuses. So anonymous visits, and connects started by
 * anyone (an attacker's `GET /` then `POST /connect`, repeated), never push out a user in the middle of
 * connecting, nor a connected one. A connected session is made by the callback after deleting the session
 * that connected, so the count in use does not grow. Expired sessions are dropped when found, when they
 * come first in their map, and by a sweep at most once a minute when a kind is full.
 */
export function createSessionStore(lifetimeSeconds: number, maxSessions = DEFAULT_MAX_SESSIONS, transactionLifetimeSeconds = DEFAULT_TRANSACTION_LIFETIME_SECONDS): SessionStore {
  if (!(maxSessions >= 1)) throw new RangeError('maxSessions must be at least 1');
  // Each in least recently used order: a session found is moved to the end.
  const anonymous = new Map<string, MutableSession>();
  const inUse = new Map<string, MutableSession>();
  // Sessions with a transaction, in the order their transactions started (so in the order they expire).
  const pending = new Map<string, MutableSession>();
  const digests = new WeakMap<Session, string>();
  const key = (id: string) => createHash('sha256').update(id).digest('base64url');
  const isInUse = (session: Session) => session.transaction !== undefined || session.connectionId !== undefined;
  const mapOf = (session: Session) => (isInUse(session) ? inUse : anonymous);
  const remove = (digest: string) => {
    anonymous.delete(digest);
    inUse.delete(digest);
    pending.delete(digest);
  };
  let lastSweep = Number.NEGATIVE_INFINITY;
  const sweep = (nowSeconds: number) => {
    if (nowSeconds - lastSweep < 60) return;
    lastSweep = nowSeconds;
    for (const map of [anonymous, inUse]) for (const [digest, session] of map) if (session.expiresAt <= nowSeconds) remove(digest);
  };
  /** Drops sessions whose transaction expired: unconnected ones entirely, connected ones lose the transaction. */
  const dropExpiredTransactions = (nowSeconds: number) => {
    for (const [digest, session] of pending) {
      if (session.transaction !== undefined && session.transaction.createdAt + transactionLifetimeSeconds > nowSeconds && session.expiresAt > nowSeconds) break;
      pending.delete(digest);
      session.transaction = undefined;
      if (session.connectionId === undefined || session.expiresAt <= nowSeconds) remove(digest);
    }
  };
  return {
    get size() {
      return anonymous.size + inUse.size;
    },
    get inUse() {
      return inUse.size;
    },
    create(nowSeconds, carried) {
      const connected = carried?.connectionId !== undefined;
      const map = connected ? inUse : anonymous;
      if (map.size >= maxSessions) {
        sweep(nowSeconds);
        if (connected) dropExpiredTransactions(nowSeconds);
        // Full still: the least recently used of the kind (for a connected session, made only after the callback
        // deleted the session that connected, this happens only when the in-use kind was full before).
        for (const digest of map.keys()) {
          if (map.size < maxSessions) break;
          remove(digest);
        }
      }
      const id = randomBytes(32).toString('base64url');
      const session: MutableSession = {
        csrfToken: randomBytes(32).toString('base64url'), expiresAt: nowSeconds + lifetimeSeconds,
        connectionId: carried?.connectionId, transaction: undefined,
      };
      const digest = key(id);
      map.set(digest, session);
      digests.set(session, digest);
      return { id, session };
    },
    find(id, nowSeconds) {
      if (!id || !/^[\w-]{43}$/.test(id)) return undefined;
      const digest = key(id);
      const session = anonymous.get(digest) ?? inUse.get(digest);
      if (!session) return undefined;
      const map = mapOf(session);
      map.delete(digest);
      if (session.expiresAt <= nowSeconds) {
        remove(digest);
        return undefined;
      }
      map.set(digest, session);
      return session;
    },
    delete(id) {
      remove(key(id));
    },
    beginTransaction(session, transaction, nowSeconds) {
      const digest = digests.get(session);
      const mutable = session as MutableSession;
      if (digest === undefined || (!anonymous.has(digest) && !inUse.has(digest))) return false;
      if (!isInUse(session)) {
        if (inUse.size >= maxSessions) dropExpiredTransactions(nowSeconds);
        if (inUse.size >= maxSessions) return false;
        anonymous.delete(digest);
        inUse.set(digest, mutable);
      }
      mutable.transaction = transaction;
      // A new transaction starts now: it goes last in the order of expiry.
      pending.delete(digest);
      pending.set(digest, mutable);
      return true;
    },
    takeTransaction(session) {
      const mutable = session as MutableSession;
      const { transaction } = mutable;
      const digest = digests.get(session);
      mutable.transaction = undefined;
      if (digest !== undefined) {
        pending.delete(digest);
        if (!isInUse(session) && inUse.delete(digest)) anonymous.set(digest, mutable);
      }
      return transaction;
    },
    forgetConnection(session) {
      const mutable = session as MutableSession;
      if (mutable.connectionId === undefined) return;
      mutable.connectionId = undefined;
      const digest = digests.get(session);
      if (digest !== undefined && !isInUse(session) && inUse.delete(digest)) anonymous.set(digest, mutable);
    },
  };
}

/** Constant-time comparison of a submitted CSRF token. */
export function csrfTokenMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const expected = Buffer.from(session.csrfToken);
  const actual = Buffer.from(submitted);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
