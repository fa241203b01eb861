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
}

export function createSessionStore(lifetimeSeconds: number): SessionStore {
  const sessions = new Map<string, Session>();
  const key = (id: string) => createHash('sha256').update(id).digest('base64url');
  return {
    create(nowSeconds, carried) {
      // Expired sessions are dropped whenever a new one starts, so the map stays bounded by live sessions.
      for (const [digest, session] of sessions) if (session.expiresAt <= nowSeconds) sessions.delete(digest);
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
      const session = sessions.get(key(id));
      if (!session || session.expiresAt <= nowSeconds) return undefined;
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
