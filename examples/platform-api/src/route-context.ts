import type { TokenVerifier } from '@gatehouse/resource-server';
import type { DataStore } from './data-store.ts';

/** What route modules need from the platform API instance. */
export interface RouteContext {
  readonly verifier: TokenVerifier;
  readonly store: DataStore;
  readonly urnNamespace: string;
}
