/**
 * `gatehouse config check [--offline] [--json]` (issue 14): validates the configuration as a server start would
 * and prints the effective values with secrets masked (configuration.ts describeConfiguration), or every
 * problem, one a line, and exits 2. GATEHOUSE_* variables that nothing reads are warned about (typos).
 * Unless `--offline`, it also reads the database (without changing it: storage/open-storage.ts
 * inspectDatabase): that it can be reached, its schema version, and outside development whether it holds the
 * development seed, which the start refuses.
 */
import { CONFIGURATION_VARIABLES, ConfigurationError, describeConfiguration, loadConfiguration, type Configuration } from '../configuration.ts';
import { auditStreamTargetProblem } from '../operations/audit-stream.ts';
import { DEVELOPMENT_SEED_CLIENTS, developmentSeedProblem } from '../seed/development-seed.ts';
import { inspectDatabase } from '../storage/open-storage.ts';

/** The database's row and problems for the report; a database that cannot be read is a problem (the start would fail). */
async function checkDatabase(configuration: Configuration): Promise<{ row: [string, string]; problems: string[] }> {
  const setting = configuration.database.kind === 'postgres' ? 'DATABASE_URL' : 'GATEHOUSE_DATABASE';
  try {
    const inspection = await inspectDatabase(configuration.database, DEVELOPMENT_SEED_CLIENTS.map((client) => client.id));
    const { schemaVersion, latestVersion } = inspection;
    const state = inspection.missingVersions.length > 0 ? `reachable; schema version ${schemaVersion} without migration ${inspection.missingVersions.join(', ')} (the start refuses it)`
      : schemaVersion === 0 ? 'reachable; Gatehouse has no tables there yet (the start creates them)'
      : schemaVersion < latestVersion ? `reachable; schema version ${schemaVersion} of ${latestVersion} (the start migrates it)`
        : schemaVersion > latestVersion ? `reachable; schema version ${schemaVersion}, newer than this Gatehouse's ${latestVersion}`
          : `reachable; schema version ${schemaVersion} (current)`;
    const seed = configuration.environment === 'development' ? undefined : developmentSeedProblem(inspection.liveClientIds, configuration.environment);
    const problems = [...(inspection.poolerProblem === undefined ? [] : [`${setting}: ${inspection.poolerProblem}`]),
      ...(inspection.schemaProblem === undefined ? [] : [`${setting}: ${inspection.schemaProblem}`]), ...(seed === undefined ? [] : [seed])];
    return { row: ['database check', state], problems };
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^storage unavailable: /, '') : String(error);
    // PgBouncer refuses the startup parameters Gatehouse sends (README "PostgreSQL behind a connection pooler").
    const pooler = /unsupported startup parameter/.test(reason) && configuration.database.kind === 'postgres' && configuration.database.pooler === 'none'
      ? '; a connection pooler in transaction mode (PgBouncer) answers so: set GATEHOUSE_DATABASE_POOLER=transaction' : '';
    return { row: ['database check', 'failed'], problems: [`${setting}: the database cannot be read (${reason}${pooler}) (--offline skips this check)`] };
  }
}

/** @returns the exit code: 0 valid, 2 problems. @throws RangeError for an unknown subcommand. */
export async function configCommand(
  command: string | undefined, rest: string[], options: { json?: boolean | undefined; offline?: boolean | undefined }, env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (command !== 'check' || rest.length > 0) throw new RangeError(`unknown command "config ${[command, ...rest].join(' ')}"`);
  const unknown = Object.keys(env).filter((name) => name.startsWith('GATEHOUSE_') && !CONFIGURATION_VARIABLES.includes(name)).sort();
  const warnings = unknown.map((name) => `${name} is not a Gatehouse setting (a typo?); it is ignored`);
  let rows: Array<[string, string]>;
  try {
    const configuration = loadConfiguration(env);
    // What the start would refuse though every variable reads well: an audit stream file it cannot append to.
    const streamProblem = configuration.auditStream === undefined ? undefined : auditStreamTargetProblem(configuration.auditStream);
    if (streamProblem !== undefined) throw new ConfigurationError([streamProblem]);
    rows = describeConfiguration(configuration);
    if (!options.offline) {
      const database = await checkDatabase(configuration);
      if (database.problems.length > 0) throw new ConfigurationError(database.problems);
      rows.push(database.row);
    }
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    if (options.json) console.log(JSON.stringify({ valid: false, problems: error.problems, warnings }, null, 2));
    else console.error(`gatehouse: the configuration has ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}:\n${error.problems.map((problem) => `  - ${problem}`).join('\n')}`);
    return 2;
  }
  if (options.json) {
    console.log(JSON.stringify({ valid: true, configuration: Object.fromEntries(rows), warnings }, null, 2));
  } else {
    for (const [name, value] of rows) console.log(`${name.padEnd(36)} ${value}`);
    for (const warning of warnings) console.error(`warning: ${warning}`);
  }
  return 0;
}
