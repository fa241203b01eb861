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
  /** The Gatehouse connection of this browser's account, once connected. */
  connectionId: string | undefined;
  /** The pending authorization request (state, code verifier) between "Connect" and the callback. */
  transaction: AuthorizationTransaction | undefined;
}

export interface SessionStore {
  /** @returns the new session and the cookie value to send. */
  create(nowSeconds: number, carried?: Pick<Session, 'connectionId'>): { id: string; session: Session };
  find(id: string | undefined, nowSeconds: number): Session | undefined;
  delete(id: string): void;
  /** Sessions held now (live, or expired and not yet swept). */
  readonly size: number;
}

/** Default most sessions held at once. */
export const DEFAULT_MAX_SESSIONS = 10_000;

/**
 * Every cookieless visit to a page with a form gets a session (its CSRF token), so the map is bounded. Two
 * kinds are bounded apart, `maxSessions` each: anonymous sessions (no authorization transaction, no
 * connection: anyone can make them, by visiting without a cookie), and sessions in use (a connect under way,
 * or connected). A new session evicts only one of its own kind: anonymous visits never push out a user in
 * the middle of connecting, nor a connected one. When a kind is full, expired sessions are swept, then the
 * least recently used of that kind is dropped (its browser starts a new session at its next visit). Expired
 * sessions are also dropped when found.
 */
export function createSessionStore(lifetimeSeconds: number, maxSessions = DEFAULT_MAX_SESSIONS): SessionStore {
  if (!(maxSessions >= 1)) throw new RangeError('maxSessions must be at least 1');
  // In least recently used order: a session found is moved to the end.
  const sessions = new Map<string, Session>();
  const key = (id: string) => createHash('sha256').update(id).digest('base64url');
  const inUse = (session: Session) => session.transaction !== undefined || session.connectionId !== undefined;
  const count = (kind: boolean) => {
    let n = 0;
    for (const session of sessions.values()) if (inUse(session) === kind) n++;
    return n;
  };
  /** Leaves at most `maxSessions - room` sessions of `kind` (in use or anonymous), evicting only that kind. */
  const makeRoom = (kind: boolean, nowSeconds: number, room: number) => {
    if (count(kind) + room <= maxSessions) return;
    for (const [digest, session] of sessions) if (session.expiresAt <= nowSeconds) sessions.delete(digest);
    let excess = count(kind) + room - maxSessions;
    for (const [digest, session] of sessions) {
      if (excess <= 0) break;
      if (inUse(session) !== kind) continue;
      sessions.delete(digest);
      excess--;
    }
  };
  return {
    get size() {
      return sessions.size;
    },
    create(nowSeconds, carried) {
      const kind = carried?.connectionId !== undefined;
      makeRoom(kind, nowSeconds, 1);
      // Sessions that came into use since the last create (a connect started) are bounded too, among themselves.
      if (!kind) makeRoom(true, nowSeconds, 0);
      const id = randomBytes(32).toString('base64url');
      const session: Session = {
        csrfToken: randomBytes(32).toString('base64url'), expiresAt: nowSeconds + lifetimeSeconds,
        connectionId: carried?.connectionId, transaction: undefined,
      };
      sessions.set(key(id), session);
      return { id, session };
    },
    find(id, nowSeconds) {
      if (!id || !/^[\w-]{43}$/.test(id)) return undefined;
      const digest = key(id);
      const session = sessions.get(digest);
      if (!session) return undefined;
      sessions.delete(digest);
      if (session.expiresAt <= nowSeconds) return undefined;
      sessions.set(digest, session);
      return session;
    },
    delete(id) {
      sessions.delete(key(id));
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
