/**
 * One clear sentence (and what to do next) for every failure `gatehouse-connect` can meet.
 */
import {
  AuthorizationServerError, CallbackValidationError, ConfigurationError, ConnectionMismatchError, ConnectionNotDeletedError, ConnectionNotFoundError, ConnectionNotStoredError, DecryptionError,
  DpopProofRejectedError,   InvalidApiRequestError, InvalidResponseError, LockLostError, LockTimeoutError, ReauthorizationRequiredError, RefreshFailedError, TransportError,
} from '../errors.ts';
import { AuthorizationRequestRefusedError } from './authorization-probe.ts';
import { CallbackTimeoutError } from './loopback-listener.ts';

export interface Failure {
  message: string;
  /** 1: the operation failed; 2: the command line or configuration is wrong. */
  exitCode: 1 | 2;
}

/**
 * @param context.apiUrl the configured API base URL: a transport failure naming its origin is blamed on the
 *   API (and `--api-url`), not on the issuer.
 */
export function describeFailure(error: unknown, context: { connection: string; issuer?: string | undefined; apiUrl?: string | undefined }): Failure {
  const reconnect = `Run: gatehouse-connect login --connection ${context.connection}`;
  if (error instanceof ConfigurationError) return { message: error.message, exitCode: 2 };
  if (error instanceof ConnectionMismatchError) {
    // A configuration mistake (RFC 6749 §10.4: the tokens belong to the stored issuer and client), not a failure.
    return {
      message: `Connection "${error.connectionId}" was made by client ${error.storedClientId} at ${error.storedIssuer}, but the settings name client `
        + `${error.configuredClientId} at ${error.configuredIssuer}. Its tokens are used only with the issuer and client they were issued to, so nothing `
        + `was sent and the connection is unchanged. Use --issuer ${error.storedIssuer} and --client-id ${error.storedClientId} (or unset GATEHOUSE_ISSUER `
        + `and GATEHOUSE_CLIENT_ID, and use that client's secret). To connect "${error.connectionId}" with the new settings instead (a login under its name is `
        + `refused while it holds the other client's connection), first revoke it with the settings it was made with: gatehouse-connect revoke --connection `
        + `${error.connectionId} --issuer ${error.storedIssuer} --client-id ${error.storedClientId}; then: gatehouse-connect login --connection ${error.connectionId}. `
        + 'Or connect with the new settings under another name (--connection).',
      exitCode: 2,
    };
  }
  if (error instanceof ConnectionNotStoredError) {
    const where = context.issuer ?? 'the authorization server';
    const cause = (error.cause as Error | undefined)?.message ?? String(error.cause);
    return {
      message: error.grantRevoked
        ? `Connection "${error.connectionId}" could not be saved (${cause}), so nothing was connected; the authorization just granted was revoked at ${where}. ${reconnect}`
        : `Connection "${error.connectionId}" could not be saved (${cause}), so nothing was connected, and the authorization just granted could not be revoked: `
          + `${where} may still list the client as connected; disconnect it there (the connected apps page). ${reconnect}`,
      exitCode: 1,
    };
  }
  if (error instanceof ConnectionNotDeletedError) {
    const cause = (error.cause as Error | undefined)?.message ?? String(error.cause);
    return {
      message: `The grant of "${error.connectionId}" is revoked at ${context.issuer ?? 'the authorization server'}, but the connection could not be deleted here (${cause}). `
        + `Run again: gatehouse-connect revoke --connection ${error.connectionId}`,
      exitCode: 1,
    };
  }
  if (error instanceof InvalidApiRequestError) return { message: `The request was not sent: ${error.message}.`, exitCode: 2 };
  if (error instanceof ConnectionNotFoundError) return { message: `No connection "${error.connectionId}". ${reconnect}`, exitCode: 1 };
  if (error instanceof ReauthorizationRequiredError) {
    return { message: `Connection "${error.connectionId}" must be authorized again (${error.reason}). ${reconnect}`, exitCode: 1 };
  }
  if (error instanceof RefreshFailedError) {
    return { message: `Refreshing failed after ${error.attempts} attempt(s) (${error.reason}); the tokens are kept, try again later.`, exitCode: 1 };
  }
  if (error instanceof TransportError) {
    const apiOrigin = context.apiUrl !== undefined && URL.canParse(context.apiUrl) ? new URL(context.apiUrl).origin : undefined;
    if (apiOrigin !== undefined && error.message.includes(apiOrigin)) {
      return {
        message: error.reason === 'network' || error.reason === 'timeout'
          ? `Cannot reach the API at ${apiOrigin}: ${error.message}. Is it running, and is --api-url (GATEHOUSE_API_URL) right?`
          : `The API at ${apiOrigin} is unavailable: ${error.message}. Try again later.`,
        exitCode: 1,
      };
    }
    const where = context.issuer ?? 'the server';
    return {
      message: error.reason === 'network' || error.reason === 'timeout'
        ? `Cannot reach ${where}: ${error.message}. Is it running (npm start), and is --issuer right?`
        : `${where} is unavailable: ${error.message}. Try again later.`,
      exitCode: 1,
    };
  }
  if (error instanceof AuthorizationServerError) {
    const detail = error.errorDescription ? `: ${error.errorDescription}` : '';
    switch (error.error) {
      case 'access_denied':
        return { message: `Access was not granted (access_denied${detail}).`, exitCode: 1 };
      case 'invalid_client': {
        // Gatehouse says "client is suspended" (or deleted, pending…): the credentials are right, the client is not usable.
        const status = /^client is ([a-z_]+)$/.exec(error.errorDescription ?? '')?.[1];
        if (status !== undefined) {
          return { message: `The client is ${status.replaceAll('_', ' ')} at ${context.issuer ?? 'the authorization server'} (invalid_client${detail}): its credentials are right, but only the platform's administrators can change its status.`, exitCode: 1 };
        }
        return { message: `The authorization server rejected the client credentials (invalid_client${detail}). Check GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET.`, exitCode: 1 };
      }
      case 'invalid_scope':
        return { message: `The scope was refused (invalid_scope${detail}). Request only scopes registered for the client (--scope).`, exitCode: 1 };
      case 'invalid_grant':
        return { message: `The authorization is no longer valid (invalid_grant${detail}). ${reconnect}`, exitCode: 1 };
      default:
        return { message: `The authorization server answered ${error.error}${detail}.`, exitCode: 1 };
    }
  }
  if (error instanceof CallbackValidationError) return { message: `The callback was refused: ${error.message}.`, exitCode: 1 };
  if (error instanceof AuthorizationRequestRefusedError) return { message: error.message, exitCode: 1 };
  if (error instanceof CallbackTimeoutError) return { message: `No callback arrived (${error.message}). ${reconnect}`, exitCode: 1 };
  if (error instanceof DecryptionError) {
    return { message: `Cannot decrypt the stored tokens (${error.message}). Was the encryption key changed? Keep old keys after the new one in GATEHOUSE_CONNECT_ENCRYPTION_KEYS.`, exitCode: 1 };
  }
  if (error instanceof LockTimeoutError) return { message: `Another gatehouse-connect is refreshing this connection (${error.message}). Try again.`, exitCode: 1 };
  if (error instanceof LockLostError) {
    // Lost twice during one refresh (another process judged the lock abandoned): it was "Unexpected error: …".
    const detail = error.message.replace(/^the refresh lock "[^"]*" was lost: /, '');
    return { message: `The refresh lock of "${context.connection}" was lost while refreshing (${detail}): another gatehouse-connect may have taken it over. Try again.`, exitCode: 1 };
  }
  if (error instanceof DpopProofRejectedError) {
    // The API refused the proof of a freshly refreshed token: its configuration, not the connection (no login needed).
    const said = `${error.status} ${error.apiError}${error.apiErrorDescription ? `: ${error.apiErrorDescription}` : ''}`;
    return {
      message: `The API${context.apiUrl ? ` at ${context.apiUrl}` : ''} refused the DPoP proof of "${context.connection}" even after a refresh (${said}). The connection is fine: the API's own configuration (the public origin each proof's htu must match, its clock) is the likely cause.`,
      exitCode: 1,
    };
  }
  if (error instanceof InvalidResponseError) return { message: `The authorization server's response was not usable: ${error.message}.`, exitCode: 1 };
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const address = (error as { address?: string } | undefined)?.address;
  if (code === 'EADDRINUSE') {
    return { message: `Cannot listen on ${address}: the port is in use. Stop what uses it, or register another loopback redirect URI and pass --redirect-uri.`, exitCode: 1 };
  }
  if (code === 'EACCES') return { message: `Not allowed to listen on ${address}. Use a redirect URI with a port above 1023.`, exitCode: 1 };
  return { message: `Unexpected error: ${(error as Error)?.message ?? String(error)}`, exitCode: 1 };
}
