/**
 * A database's `schema_migrations` against the migration list this release knows, judged once for both dialects
 * (readiness, `gatehouse config check`, and the two runners).
 *
 * A database is current when EVERY version of the dialect's list is recorded, not when the highest recorded
 * version reaches the list's last: one that has migration 50 but not 49 lacks what 49 built. Versions this release
 * does not know (a newer release's, during a rolling deploy or after a downgrade) are allowed and reported.
 * A missing version below one already applied (a gap) is never applied by the runners: migrations run in version
 * order, and an earlier one run after later ones may undo what they changed (a function replaced again with its
 * older body) or fail half-way on what they built; the operator restores a backup or repairs it by hand.
 */

/** The versions one dialect knows, with their names (sql/migrations.ts `DialectMigration`). */
export type KnownMigrations = readonly { readonly version: number; readonly name: string }[];

/** How the recorded versions compare with the known ones. Every list ascending. */
export interface SchemaVersions {
  /** The highest version recorded, known or not; 0 when none is. */
  highest: number;
  /** Known versions not recorded. */
  missing: number[];
  /** Of `missing`, those below a recorded version (the runners refuse to apply them). */
  gaps: number[];
  /** Recorded versions this release does not know (a newer release's). */
  unknown: number[];
}

/** Compares `applied` (the `version` column of `schema_migrations`, in any order) with `known`. */
export function compareSchemaVersions(known: KnownMigrations, applied: Iterable<number>): SchemaVersions {
  const recorded = new Set([...applied].map(Number));
  const knownVersions = new Set(known.map((migration) => migration.version));
  const highest = Math.max(0, ...recorded);
  const missing = known.map((migration) => migration.version).filter((version) => !recorded.has(version)).sort((a, b) => a - b);
  return {
    highest,
    missing,
    gaps: missing.filter((version) => version < highest),
    unknown: [...recorded].filter((version) => !knownVersions.has(version)).sort((a, b) => a - b),
  };
}

/** `49 ("name")`, for the messages below. */
function named(known: KnownMigrations, versions: number[]): string {
  return versions.map((version) => `${version} ("${known.find((migration) => migration.version === version)?.name ?? '?'}")`).join(', ');
}

/**
 * Why a server of this release cannot serve the database (readiness, storage.ts `checkReady`), or undefined when
 * every known version is recorded. `what` names it: `database schema` (PostgreSQL), `database file` (SQLite).
 */
export function schemaNotCurrentProblem(known: KnownMigrations, versions: SchemaVersions, what: string): string | undefined {
  if (versions.missing.length === 0) return undefined;
  const latest = Math.max(0, ...known.map((migration) => migration.version));
  return `the ${what} lacks migration${versions.missing.length === 1 ? '' : 's'} ${named(known, versions.missing)} (recorded up to version ${versions.highest}); `
    + `this server needs every version through ${latest}`;
}

/**
 * Why the runners refuse to migrate the database (a gap, see above), or undefined. `what` as for schemaNotCurrentProblem.
 */
export function schemaGapProblem(known: KnownMigrations, versions: SchemaVersions, what: string): string | undefined {
  if (versions.gaps.length === 0) return undefined;
  return `the ${what} lacks migration${versions.gaps.length === 1 ? '' : 's'} ${named(known, versions.gaps)} but records later versions (up to ${versions.highest}): `
    + `migrations are applied in version order, and ${versions.gaps.length === 1 ? 'this one' : 'these'} run after later ones could undo what those changed, `
    + `so Gatehouse does not apply ${versions.gaps.length === 1 ? 'it' : 'them'}. Restore the database from a backup, or complete it by hand `
    + `(the SQL of each version is in storage/sql/migrations.ts) and record ${versions.gaps.length === 1 ? 'it' : 'them'} in schema_migrations; `
    + 'nothing was changed';
}
