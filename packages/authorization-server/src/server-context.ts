/**
 * What endpoints and grants share: the resolved options, storage, the token codec and the clock.
 * Built once by createAuthorizationServer; passed explicitly (no global lookups).
 */
import type { ResolvedOptions } from './options.ts';
import type { Storage } from './storage/storage.ts';
import type { OpaqueTokenCodec } from './tokens/opaque-token.ts';
import type { Clock } from './clock.ts';
import type { SigningKeyRing } from './tokens/signing-key.ts';
import type { LastUseRecorder } from './storage/last-use-recorder.ts';

export interface ServerContext {
  options: ResolvedOptions;
  storage: Storage;
  codec: OpaqueTokenCodec;
  clock: Clock;
  /** Signs JWT access tokens; published in the JWKS. A ring (issue 14): the members are the key signing now. */
  signingKey: SigningKeyRing;
  /** Signs session handover tokens (tokens/session-handover.ts); its own `kid`, also in the JWKS. A ring too. */
  handoverSigningKey: SigningKeyRing;
  /**
   * Uses noted off the answer's path and written once a second (storage/last-use-recorder.ts, issue 12):
   * grants' (an introspected access token), API keys', and login sessions' visits. Written at the server's close.
   */
  lastUses: { grants: LastUseRecorder; apiKeys: LastUseRecorder; sessions: LastUseRecorder };
}
