/**
 * How a `gatehouse` command that did not do what it was asked ends (README "The CLI").
 *
 * Always one line on standard error. With `--json`, also one JSON object on standard output,
 * `{ "error": code, "error_description": text, "field"?: name }` (the admin API's error shape), so a script
 * that parses standard output learns why instead of reading nothing; the usage text is left out then.
 * Exit codes: 2 for a usage error or a refused change, 1 for a failure (a database that cannot be reached…).
 */
export interface CliFailure {
  /** `usage`, `refused`, `failed`, or the refusal's own code (`invalid_redirect_uri`, `not_found`, `conflict`…). */
  error: string;
  /** The line shown after `gatehouse: ` on standard error. */
  line: string;
  /** What the JSON's `error_description` says (the line without its prefix). */
  description: string;
  field?: string | undefined;
  exitCode: 1 | 2;
  /** Printed after the line when not `--json`. */
  usage?: string | undefined;
}

/** Prints `failure` as described above. @returns its exit code. */
export function reportCliFailure(failure: CliFailure, json: boolean): 1 | 2 {
  if (json) {
    console.log(JSON.stringify({ error: failure.error, error_description: failure.description, ...(failure.field === undefined ? {} : { field: failure.field }) }, null, 2));
    console.error(`gatehouse: ${failure.line}`);
  } else {
    console.error(`gatehouse: ${failure.line}${failure.usage === undefined ? '' : `\n\n${failure.usage}`}`);
  }
  return failure.exitCode;
}

/** A failure other than a usage error or a refusal: exit 1. */
export function unexpectedFailure(error: unknown): CliFailure {
  const description = error instanceof Error ? error.message : String(error);
  return { error: 'failed', line: `failed: ${description}`, description, exitCode: 1 };
}

/** Whether the command line asked for `--json` (read from argv: a usage error can come before its flags are parsed). */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}
