/**
 * The grant-type contract: the token endpoint looks a handler up by `grant_type` (RFC 6749 §4.1.3, §6)
 * and runs it with the authenticated client.
 */
import type { RawParameters } from '../http/parameters.ts';
import type { ServerContext } from '../server-context.ts';
import type { AuthenticatedClient, ClientRecord } from '../storage/storage.ts';
import type { TokenResponse } from '../tokens/token-pair.ts';
import { authorizationCodeGrant } from './authorization-code.ts';
import { refreshTokenGrant } from './refresh-token.ts';

export interface GrantHandler {
  grantType: string;
  /**
   * @param dpopJkt RFC 9449 §5: the thumbprint of the DPoP key the request proved possession of, if it sent a proof.
   * @param authenticated the client with the digest of the secret it presented (storage.ts AuthenticatedClient).
   * @throws OAuthError with the RFC 6749 §5.2 code; never issues tokens when it throws.
   */
  handle(context: ServerContext, client: ClientRecord, parameters: RawParameters, dpopJkt: string | undefined, authenticated: AuthenticatedClient): Promise<TokenResponse>;
}

export const grantHandlers: ReadonlyMap<string, GrantHandler> = new Map(
  [authorizationCodeGrant, refreshTokenGrant].map((handler) => [handler.grantType, handler]),
);
