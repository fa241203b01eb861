/**
 * Events a `GatehouseClient` emits, for the application to react (e.g. e-mail the user to reconnect on
 * `reauthorization_required`). Payloads never contain tokens. Times are epoch seconds.
 */
import { EventEmitter } from 'node:events';
import type { RevokeOutcome } from './gatehouse-client.ts';

export interface ConnectedEvent {
  connectionId: string;
  subjectUrn: string;
  scope: readonly string[];
}

export interface RefreshedEvent {
  connectionId: string;
  accessTokenExpiresAt: number | null;
}

export interface ReauthorizationRequiredEvent {
  connectionId: string;
  subjectUrn: string;
  /** e.g. `invalid_grant: the authorization was revoked`. */
  reason: string;
}

/** The connection was deleted by `revoke`; `outcome` says whether its grant was revoked (`RevokeOutcome`). */
export interface RevokedEvent {
  connectionId: string;
  subjectUrn: string;
  outcome: RevokeOutcome;
}

export interface ClientEventMap {
  connected: [ConnectedEvent];
  refreshed: [RefreshedEvent];
  reauthorization_required: [ReauthorizationRequiredEvent];
  revoked: [RevokedEvent];
}

export type ClientEvents = EventEmitter<ClientEventMap>;

export function createClientEvents(): ClientEvents {
  return new EventEmitter<ClientEventMap>();
}

/**
 * Emits without letting a throwing listener undo work already done (tokens are stored before events
 * fire); the listener's error becomes a process warning.
 */
export function emitSafely<Name extends keyof ClientEventMap>(events: ClientEvents, name: Name, ...payload: ClientEventMap[Name]): void {
  try {
    (events.emit as (name: Name, ...payload: ClientEventMap[Name]) => boolean)(name, ...payload);
  } catch (error) {
    process.emitWarning(`a "${String(name)}" listener threw: ${(error as Error)?.message ?? String(error)}`, 'GatehouseClientWarning');
  }
}
