/**
 * `gatehouse config check [--json]` (issue 14): validates the configuration as a server start would and
 * prints the effective values with secrets masked (configuration.ts describeConfiguration), or every
 * problem, one a line, and exits 2. GATEHOUSE_* variables that nothing reads are warned about (typos).
 */
import { CONFIGURATION_VARIABLES, ConfigurationError, describeConfiguration, loadConfiguration } from '../configuration.ts';
import { auditStreamTargetProblem } from '../operations/audit-stream.ts';

/** @returns the exit code: 0 valid, 2 problems. @throws RangeError for an unknown subcommand. */
export function configCommand(command: string | undefined, rest: string[], json: boolean | undefined, env: NodeJS.ProcessEnv = process.env): number {
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
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    if (json) console.log(JSON.stringify({ valid: false, problems: error.problems, warnings }, null, 2));
    else console.error(`gatehouse: the configuration has ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}:\n${error.problems.map((problem) => `  - ${problem}`).join('\n')}`);
    return 2;
  }
  if (json) {
    console.log(JSON.stringify({ valid: true, configuration: Object.fromEntries(rows), warnings }, null, 2));
  } else {
    for (const [name, value] of rows) console.log(`${name.padEnd(36)} ${value}`);
    for (const warning of warnings) console.error(`warning: ${warning}`);
  }
  return 0;
}
