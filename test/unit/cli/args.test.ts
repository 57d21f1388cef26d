import { describe, expect, it } from 'vitest';
import {
  COMMANDS,
  commandUsage,
  DEFAULT_STACK_NAME,
  GENERAL_USAGE,
  parseCommandLine,
} from '../../../functions/cli/args.js';
import { UsageError } from '../../../functions/cli/errors.js';

function usageError(argv: readonly string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
}

describe('Function: parseCommandLine', () => {
  it('parses a command with its argument and options in any order, with defaults for the rest', () => {
    // Act
    const parsed = parseCommandLine([
      '--json',
      'refresh',
      'github',
      '--stack',
      'Prod',
      '--region',
      'eu-west-1',
    ]);

    // Assess
    expect(parsed).toEqual({
      kind: 'command',
      command: 'refresh',
      argument: 'github',
      options: { json: true, debug: false, aws: false, stack: 'Prod', region: 'eu-west-1' },
    });
  });

  it('defaults the stack to TokenRefresher and maps every target flag', () => {
    // Act
    const parsed = parseCommandLine([
      'revoke',
      'crm',
      '--endpoint',
      'http://127.0.0.1:5000/',
      '--table',
      't',
      '--secret-prefix',
      'p/q',
      '--config',
      'c.json',
    ]);

    // Assess
    expect(parsed).toEqual({
      kind: 'command',
      command: 'revoke',
      argument: 'crm',
      options: {
        json: false,
        debug: false,
        aws: false,
        stack: DEFAULT_STACK_NAME,
        endpoint: 'http://127.0.0.1:5000',
        table: 't',
        secretPrefix: 'p/q',
        config: 'c.json',
      },
    });
  });

  it('answers --help, -h and help <command> with the right text', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help', text: GENERAL_USAGE });
    expect(parseCommandLine(['help'])).toEqual({ kind: 'help', text: GENERAL_USAGE });
    for (const command of COMMANDS) {
      expect(parseCommandLine([command, '-h'])).toEqual({ kind: 'help', text: commandUsage(command) });
      expect(parseCommandLine(['help', command])).toEqual({ kind: 'help', text: commandUsage(command) });
    }
  });

  it.each([
    [[], 'no command given'],
    [['frob'], 'unknown command "frob"; commands: status, refresh, revoke, validate-config'],
    [['help', 'frob'], 'unknown command "frob"'],
    [['status', '--jsn'], "Unknown option '--jsn'"],
    [['refresh', 'a', '--stack'], "Option '--stack <value>' argument missing"],
    [['refresh'], 'refresh needs a <provider>'],
    [['revoke', 'a', 'b'], 'revoke takes one <provider> (got 2: a b)'],
    [['status', 'extra'], 'status takes no argument (got "extra")'],
    [['validate-config', 'c.json', '--stack', 'x'], '--stack does not apply to validate-config'],
    [['status', '--refresh-function', 'f'], '--refresh-function does not apply to status'],
    [['status', '--aws', '--endpoint', 'http://127.0.0.1:1'], '--aws and --endpoint exclude each other'],
    [
      ['status', '--endpoint', 'localhost:5000'],
      '--endpoint must be an http(s) URL such as http://127.0.0.1:5000',
    ],
    [['status', '--table', ' '], '--table needs a non-empty value'],
  ])('rejects %j: %s', (argv, message) => {
    // Act
    const error = usageError(argv);

    // Assess
    expect(error.message).toBe(message);
    expect(error.exitCode).toBe(2);
  });

  it("attaches the command's usage to its usage errors, the general usage otherwise", () => {
    expect(usageError(['revoke']).usage).toBe(commandUsage('revoke'));
    expect(usageError(['status', '--nope']).usage).toBe(commandUsage('status'));
    expect(usageError(['--nope']).usage).toBe(GENERAL_USAGE);
  });

  it('lists the target options only for commands that talk to a deployment', () => {
    expect(commandUsage('status')).toContain('--stack <name>');
    expect(commandUsage('validate-config')).not.toContain('--stack');
  });
});
