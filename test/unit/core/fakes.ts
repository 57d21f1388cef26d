/**
 * In-memory fakes of the engine's ports with the same semantics as the AWS adapters: conditional
 * lease writes with a fence, and compare-and-swap secret versions. For unit tests of the core.
 */
import { randomUUID } from 'node:crypto';
import { WriteConflictError } from '../../../functions/core/errors.js';
import type {
  Clock,
  CredentialsRecovery,
  CredentialsStore,
  EventPublisher,
  Logger,
  MetricName,
  Metrics,
  MetricUnit,
  Provider,
  ProviderEvent,
  ReleaseRecord,
  StateTable,
  TokenStore,
} from '../../../functions/core/ports.js';
import type {
  Credentials,
  CurrentCredentials,
  CurrentToken,
  IssuedToken,
  ProviderState,
  TokenRecord,
} from '../../../functions/core/types.js';

/** A clock the test moves by hand. */
export class FakeClock implements Clock {
  constructor(public current = Date.parse('2026-01-01T00:00:00Z')) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** Versioned JSON secrets with an `AWSCURRENT` label and compare-and-swap writes. */
export class FakeSecrets {
  readonly versions = new Map<string, { id: string; value: unknown }[]>();
  readonly current = new Map<string, string>();
  readonly calls: string[] = [];

  seed(secretId: string, value: unknown): string {
    const id = randomUUID();
    this.versions.set(secretId, [...(this.versions.get(secretId) ?? []), { id, value }]);
    this.current.set(secretId, id);
    return id;
  }

  read(secretId: string): { versionId: string; value: unknown } {
    this.calls.push(`read ${secretId}`);
    const id = this.current.get(secretId);
    const version = this.versions.get(secretId)?.find((candidate) => candidate.id === id);
    if (id === undefined || version === undefined) throw new Error(`no secret ${secretId}`);
    return { versionId: id, value: structuredClone(version.value) };
  }

  compareAndSwap(secretId: string, value: unknown, expectedVersionId: string | undefined): string {
    this.calls.push(`write ${secretId}`);
    if (this.current.get(secretId) !== expectedVersionId) {
      throw new WriteConflictError(`AWSCURRENT of ${secretId} moved`);
    }
    return this.seed(secretId, structuredClone(value));
  }

  valueOf(secretId: string): unknown {
    const id = this.current.get(secretId);
    return this.versions.get(secretId)?.find((candidate) => candidate.id === id)?.value;
  }
}

export class FakeTokenStore implements TokenStore {
  constructor(readonly secrets: FakeSecrets) {}
  static secretId(provider: string): string {
    return `test/${provider}/token`;
  }
  async readCurrent(provider: string): Promise<CurrentToken> {
    const { versionId, value } = this.secrets.read(FakeTokenStore.secretId(provider));
    const token =
      value !== null && typeof value === 'object' && 'accessToken' in value
        ? (value as TokenRecord)
        : undefined;
    return { versionId, token };
  }
  async write(input: Parameters<TokenStore['write']>[0]): Promise<string> {
    return this.secrets.compareAndSwap(
      FakeTokenStore.secretId(input.provider),
      input.token,
      input.expectedVersionId,
    );
  }
  token(provider: string): TokenRecord | undefined {
    const value = this.secrets.valueOf(FakeTokenStore.secretId(provider));
    return value !== null && typeof value === 'object' && 'accessToken' in value
      ? (value as TokenRecord)
      : undefined;
  }
}

export class FakeCredentialsStore implements CredentialsStore {
  /** The `recovery` argument of every read. */
  readonly reads: Array<CredentialsRecovery | undefined> = [];
  /** Every write's input (`resume` tells a repeat). */
  readonly writes: Array<Parameters<CredentialsStore['write']>[0]> = [];
  /** Errors the next writes throw, in order, instead of writing. */
  readonly failNextWrites: Error[] = [];
  /** When set, the next read reports that it finished this generation's unfinished write. */
  recoverNext: number | undefined;

  constructor(readonly secrets: FakeSecrets) {}
  static secretId(provider: string): string {
    return `test/${provider}/credentials`;
  }
  async read(provider: string, recovery?: CredentialsRecovery): Promise<CurrentCredentials> {
    this.reads.push(recovery);
    const { versionId, value } = this.secrets.read(FakeCredentialsStore.secretId(provider));
    const recoveredGeneration = this.recoverNext;
    this.recoverNext = undefined;
    return {
      versionId,
      credentials: value as Credentials,
      ...(recoveredGeneration === undefined ? {} : { recoveredGeneration }),
    };
  }
  async write(input: Parameters<CredentialsStore['write']>[0]): Promise<string> {
    this.writes.push(input);
    const failure = this.failNextWrites.shift();
    if (failure !== undefined) throw failure;
    return this.secrets.compareAndSwap(
      FakeCredentialsStore.secretId(input.provider),
      input.credentials,
      input.expectedVersionId,
    );
  }
  credentials(provider: string): Credentials {
    return this.secrets.valueOf(FakeCredentialsStore.secretId(provider)) as Credentials;
  }
}

/** Records published events; `failNext` makes the next publish throw. */
export class RecordingEvents implements EventPublisher {
  readonly published: ProviderEvent[] = [];
  failNext = false;
  async publish(event: ProviderEvent): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('PutEvents failed');
    }
    this.published.push(event);
  }
}

/** The state/lock table with the adapter's conditions: lease if free or expired; fenced release. */
export class FakeStateTable implements StateTable {
  readonly items = new Map<string, ProviderState>();
  readonly calls: string[] = [];

  async read(provider: string): Promise<ProviderState | undefined> {
    this.calls.push('read');
    const item = this.items.get(provider);
    return item === undefined ? undefined : { ...item };
  }

  async acquire(input: Parameters<StateTable['acquire']>[0]): Promise<ProviderState | undefined> {
    this.calls.push('acquire');
    const item = this.items.get(input.provider);
    if (item?.leaseOwner !== undefined && (item.leaseExpiresAt ?? 0) >= input.now) return undefined;
    const next: ProviderState = {
      ...(item ?? { provider: input.provider, consecutiveFailures: 0, fence: 0 }),
      leaseOwner: input.owner,
      leaseExpiresAt: input.leaseExpiresAt,
      fence: (item?.fence ?? 0) + 1,
    };
    this.items.set(input.provider, next);
    return { ...next };
  }

  async release(input: Parameters<StateTable['release']>[0]): Promise<boolean> {
    this.calls.push(`release ${input.record.outcome}`);
    const item = this.items.get(input.provider);
    if (item === undefined || item.leaseOwner !== input.owner || item.fence !== input.fence) return false;
    const { leaseOwner: _owner, leaseExpiresAt: _expires, ...rest } = item;
    this.items.set(input.provider, withPreciseRun(applyRecord(rest, input.record, input.now), input.record));
    return true;
  }

  async recordPreciseRun(input: Parameters<StateTable['recordPreciseRun']>[0]): Promise<boolean> {
    this.calls.push('recordPreciseRun');
    const item = this.items.get(input.provider);
    if (item === undefined || item.nextRefreshAt !== input.nextRefreshAt) return false;
    this.items.set(input.provider, { ...item, preciseRunFor: input.nextRefreshAt });
    return true;
  }
}

/** What a success or failure says about the precise run; an observed token leaves it alone. */
function withPreciseRun(item: ProviderState, record: ReleaseRecord): ProviderState {
  if (record.outcome === 'observed') return item;
  const { preciseRunFor: _previous, ...rest } = item;
  return record.preciseRunFor === undefined ? rest : { ...rest, preciseRunFor: record.preciseRunFor };
}

function applyRecord(item: ProviderState, record: ReleaseRecord, now: number): ProviderState {
  switch (record.outcome) {
    case 'success': {
      const { lastErrorCode: _code, lastErrorPermanent: _permanent, ...rest } = item;
      return {
        ...rest,
        tokenExpiresAt: record.tokenExpiresAt,
        nextRefreshAt: record.nextRefreshAt,
        tokenVersionId: record.tokenVersionId,
        lastSuccessAt: now,
        consecutiveFailures: 0,
      };
    }
    case 'failure':
      return {
        ...item,
        lastErrorAt: now,
        lastErrorCode: record.errorCode,
        lastErrorPermanent: record.permanent,
        nextRefreshAt: record.nextRefreshAt,
        consecutiveFailures: item.consecutiveFailures + 1,
      };
    case 'observed': {
      const observed = {
        ...item,
        tokenExpiresAt: record.tokenExpiresAt,
        nextRefreshAt: record.nextRefreshAt,
        tokenVersionId: record.tokenVersionId,
      };
      if (record.recoveredAt === undefined) return observed;
      const { lastErrorCode: _code, lastErrorPermanent: _permanent, ...rest } = observed;
      return { ...rest, lastSuccessAt: record.recoveredAt, consecutiveFailures: 0 };
    }
  }
}

/** A provider whose answers the test scripts; records what it was asked. */
export class ScriptedProvider implements Provider {
  readonly requests: Credentials[] = [];
  readonly #script: Array<(credentials: Credentials) => Promise<IssuedToken> | IssuedToken> = [];
  #counter = 0;

  /** Answer the next call with this (a token, or a function that throws). */
  answerNext(answer: (credentials: Credentials) => Promise<IssuedToken> | IssuedToken): this {
    this.#script.push(answer);
    return this;
  }

  async requestToken(input: { credentials: Credentials; signal: AbortSignal }): Promise<IssuedToken> {
    this.requests.push({ ...input.credentials });
    const answer = this.#script.shift();
    if (answer !== undefined) return answer(input.credentials);
    this.#counter += 1;
    return { accessToken: `access-token-${this.#counter}`, tokenType: 'Bearer', expiresInSeconds: 3600 };
  }
}

export interface RecordedMetric {
  provider: string;
  name: MetricName;
  unit: MetricUnit;
  value: number;
}

export class RecordingMetrics implements Metrics {
  readonly recorded: RecordedMetric[] = [];
  add(provider: string, name: MetricName, unit: MetricUnit, value: number): void {
    this.recorded.push({ provider, name, unit, value });
  }
  values(name: MetricName): number[] {
    return this.recorded.filter((metric) => metric.name === name).map((metric) => metric.value);
  }
}

export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; attributes?: Record<string, unknown> }[] = [];
  debug(message: string, attributes?: Record<string, unknown>): void {
    this.lines.push({ level: 'debug', message, attributes });
  }
  info(message: string, attributes?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, attributes });
  }
  warn(message: string, attributes?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, attributes });
  }
  error(message: string, attributes?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, attributes });
  }
  text(): string {
    return JSON.stringify(this.lines);
  }
}
