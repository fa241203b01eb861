/**
 * JSON error body every resource-server refusal renders. Wire names are the OAuth
 * names verbatim (RFC 6749 §5.2 / RFC 6750 §3): `error`, `error_description`, `scope`.
 */
export interface ErrorBody {
  readonly error: string;
  readonly error_description: string;
  /** Space-separated scopes the resource needs (RFC 6750 §3, only for `insufficient_scope`). */
  readonly scope?: string;
}

/**
 * Base class of every refusal the resource server renders as an HTTP response. Framework
 * adapters need only these three members: `status`, `headers` and `body`, so a new
 * refusal type never needs adapter changes.
 */
export class ResourceServerError extends Error {
  /** HTTP status code of the refusal. */
  readonly status: number;
  /** The `error` member of the JSON body. */
  readonly error: string;
  /** Human-readable explanation for the developer of the client (never shown to end users). */
  readonly errorDescription: string;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, error: string, errorDescription: string, headers: Record<string, string> = {}) {
    super(errorDescription);
    this.name = new.target.name;
    this.status = status;
    this.error = error;
    this.errorDescription = errorDescription;
    this.headers = headers;
  }

  /** The JSON body to send. */
  get body(): ErrorBody {
    return { error: this.error, error_description: this.errorDescription };
  }
}
