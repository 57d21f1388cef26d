/**
 * docs/runbook.md covers every alarm the construct creates, by its construct id (the id CloudFormation
 * puts in the alarm's name), and gives each its meaning, three things to check first and how to
 * recover. The alarms are read from the construct tree of a synthesizable stack, not from the source
 * text, so the check holds however the construct's code is split.
 */
import { App } from 'aws-cdk-lib';
import { AlarmBase } from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import type { RefresherConfigInput } from '../../../functions/core/config.js';
import { TokenRefresherStack } from '../../../infra/stack.js';
import { readDoc } from './markdown.js';

const RUNBOOK = readDoc('docs/runbook.md');

/** The construct ids of every alarm of the stack built from the example configuration. */
function alarmIds(): string[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const config = JSON.parse(readDoc('config/example.json')) as RefresherConfigInput;
  const stack = new TokenRefresherStack(app, 'TokenRefresher', { config });
  const ids = stack.node
    .findAll()
    .filter((construct) => construct instanceof AlarmBase)
    .map((construct) => construct.node.id);
  return [...new Set(ids)];
}

/** The runbook's entries: one `## ` section each (the text before the first is the introduction). */
function entries(markdown: string): string[] {
  return markdown.split(/^## /m).slice(1);
}

/** Alarm ids that no backticked name in the runbook mentions (`Provider-<name>/StaleAlarm` counts). */
function undocumented(markdown: string, ids: readonly string[]): string[] {
  return ids.filter((id) => !new RegExp(`\`[^\`\\n]*\\b${id}\\b[^\`\\n]*\``).test(markdown));
}

/** Entries without **Meaning.**, exactly three numbered **Check first.** items, and **Recover.** */
function incomplete(markdown: string): string[] {
  return entries(markdown).flatMap((entry) => {
    const title = entry.split('\n')[0] ?? '';
    const checks = (entry.split('**Check first.**')[1] ?? '').split('**Recover.**')[0] ?? '';
    const numbered = checks.split('\n').filter((line) => /^[1-3]\. /.test(line)).length;
    const complete = entry.includes('**Meaning.**') && entry.includes('**Recover.**') && numbered === 3;
    return complete ? [] : [title];
  });
}

describe('Alarms runbook (docs/runbook.md)', () => {
  const ids = alarmIds();

  it('covers every alarm the construct creates, by its construct id', () => {
    // Assess: the construct tree has the alarms (10 kinds: 9 shared, 1 per provider).
    expect(ids.length).toBeGreaterThanOrEqual(9);
    expect(ids).toEqual(
      expect.arrayContaining(['PermanentFailureAlarm', 'RefreshFailuresAlarm', 'StaleAlarm']),
    );
    const missing = undocumented(RUNBOOK, ids);
    expect(missing, `alarms without a runbook entry: ${missing.join(', ')}`).toEqual([]);
  });

  it('gives each alarm its meaning, three things to check first, and how to recover', () => {
    // Act
    const problems = incomplete(RUNBOOK);

    // Assess: one entry per alarm kind, each complete.
    expect(entries(RUNBOOK).length).toBe(ids.length);
    expect(
      problems,
      `runbook entries missing Meaning / three checks / Recover: ${problems.join(', ')}`,
    ).toEqual([]);
  });

  it('notices a deleted entry, an alarm it does not know and an entry without its checks', () => {
    // Prepare
    const withoutEntry = RUNBOOK.replace(/^## Dead-letter queue\n[\s\S]*?(?=^## )/m, '');
    const withoutChecks = RUNBOOK.replace(
      /(## Read latency[\s\S]*?\*\*Check first\.\*\*[\s\S]*?)\n3\. /,
      '$1\n',
    );

    // Act
    const results = {
      undocumented: undocumented(withoutEntry, ids),
      newAlarm: undocumented(RUNBOOK, [...ids, 'TokenLeakAlarm']),
      incomplete: incomplete(withoutChecks),
    };

    // Assess
    expect(withoutEntry).not.toBe(RUNBOOK);
    expect(withoutChecks).not.toBe(RUNBOOK);
    expect(results).toEqual({
      undocumented: ['DeadLetterQueueAlarm'],
      newAlarm: ['TokenLeakAlarm'],
      incomplete: ['Read latency'],
    });
  });
});
