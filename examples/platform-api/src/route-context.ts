import type { CredentialKind, CredentialVerifier, TokenVerifier } from '@gatehouse/resource-server';
import type { DataStore } from './data-store.ts';

/** What route modules need from the platform API instance. */
export interface RouteContext {
  readonly verifier: TokenVerifier;
  readonly store: DataStore;
  readonly urnNamespace: string;
  /** Issue 16: Bearer tokens and API keys behind one per-route choice. */
  readonly credentials: CredentialVerifier;
  /** The credentials every route accepts (default both). */
  readonly acceptedCredentials: readonly CredentialKind[];
}
