/**
 * In-memory fakes of the engine's ports with the same semantics as the AWS adapters: conditional
 * lease writes with a fence, and compare-and-swap secret versions. For unit tests of the core.
 * `test/contract/` runs each port's contract suite against these fakes and the adapters on moto, so
 * the two cannot drift apart.
 */
import { randomUUID } from 'node:crypto';
import { credentialsProblem } from '../../../functions/core/credentials-value.js';
import { CredentialsError, StoreError, WriteConflictError } from '../../../functions/core/errors.js';
import type {
  Clock,
  CredentialsRecovery,
  CredentialsStore,
  EventPublisher,
  Logger,
  MetricName,
  Metrics,
  MetricUnit,
  NextRunScheduler,
  Provider,
  ProviderEvent,
  ReleaseRecord,
  StateTable,
  TokenStore,
} from '../../../functions/core/ports.js';
import { tokenRecordSchema } from '../../../functions/core/token-record.js';
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

/**
 * How many lease generations back {@link FakeCredentialsStore.read} looks for an unfinished write: the
 * adapter's `RECOVERY_LOOKBACK_GENERATIONS` (`functions/aws/credentials-store.ts`), which the contract
 * suite (`test/contract/credentials-store.contract.ts`) checks on both.
 */
export const FAKE_RECOVERY_LOOKBACK_GENERATIONS = 1_000;

/** One version of a fake secret. */
interface FakeVersion {
  readonly id: string;
  readonly value: unknown;
  /** Set for a store write: its lease generation and the version it was written from. */
  readonly origin?: { readonly fence: number; readonly fromVersionId: string | undefined };
}

/**
 * Versioned JSON secrets as Secrets Manager keeps them for the stores: an `AWSCURRENT` label moved by
 * compare-and-swap, and an `AWSPENDING` label on the last version a store wrote. A store write is
 * identified by its `(fence, expectedVersionId)`, as the adapter's `ClientRequestToken` is: repeating
 * it with the same value changes nothing, with another value it conflicts.
 */
export class FakeSecrets {
  readonly versions = new Map<string, FakeVersion[]>();
  readonly current = new Map<string, string>();
  /** The version holding `AWSPENDING` per secret (the last store write, finished or not). */
  readonly pending = new Map<string, string>();
  readonly calls: string[] = [];

  /** Put a value as an operator (or the stack) does: a new version that becomes current at once. */
  seed(secretId: string, value: unknown): string {
    const id = randomUUID();
    this.#add(secretId, { id, value: structuredClone(value) });
    this.current.set(secretId, id);
    return id;
  }

  /** @throws StoreError `secret_not_found` (permanent) when the secret does not exist, as the adapter. */
  read(secretId: string): { versionId: string; value: unknown } {
    this.calls.push(`read ${secretId}`);
    const version = this.#version(secretId, this.current.get(secretId));
    if (version === undefined) throw secretNotFound(secretId);
    return { versionId: version.id, value: structuredClone(version.value) };
  }

  /** The version holding `AWSPENDING`, if any (not counted in {@link calls}). */
  readPending(secretId: string): FakeVersion | undefined {
    const version = this.#version(secretId, this.pending.get(secretId));
    return version === undefined ? undefined : { ...version, value: structuredClone(version.value) };
  }

  /**
   * Store `value` as a pending version, then move `AWSCURRENT` to it from `expectedVersionId`. With
   * `fence`, the write is the store write `(fence, expectedVersionId)`: repeated with the same value
   * it skips what is done, with another value it throws {@link WriteConflictError}. `interruption` is
   * thrown between the two steps (a holder that died there). A write that loses the swap leaves its
   * version pending, as on Secrets Manager.
   * @throws WriteConflictError when `AWSCURRENT` is no longer on `expectedVersionId`
   * @throws StoreError `secret_not_found` when the secret does not exist
   */
  compareAndSwap(
    secretId: string,
    value: unknown,
    expectedVersionId: string | undefined,
    options: { readonly fence?: number; readonly interruption?: Error } = {},
  ): string {
    this.calls.push(`write ${secretId}`);
    const versions = this.versions.get(secretId);
    if (versions === undefined) throw secretNotFound(secretId);
    const { fence } = options;
    const existing =
      fence === undefined
        ? undefined
        : versions.find(
            (version) =>
              version.origin?.fence === fence && version.origin.fromVersionId === expectedVersionId,
          );
    let id: string;
    if (existing === undefined) {
      id = randomUUID();
      this.#add(secretId, {
        id,
        value: structuredClone(value),
        ...(fence === undefined ? {} : { origin: { fence, fromVersionId: expectedVersionId } }),
      });
      this.pending.set(secretId, id);
    } else {
      // The adapter compares the serialised value (Secrets Manager compares `SecretString`).
      if (JSON.stringify(existing.value) !== JSON.stringify(value)) {
        throw new WriteConflictError(`${secretId} already has this write's version with another value`);
      }
      id = existing.id;
      if (this.current.get(secretId) === id) return id;
    }
    if (options.interruption !== undefined) throw options.interruption;
    this.moveCurrent(secretId, id, expectedVersionId);
    return id;
  }

  /**
   * Move `AWSCURRENT` to `versionId`, only from `expectedVersionId`.
   * @throws WriteConflictError when `AWSCURRENT` is elsewhere
   */
  moveCurrent(secretId: string, versionId: string, expectedVersionId: string | undefined): void {
    const current = this.current.get(secretId);
    if (current === versionId) return;
    if (current !== expectedVersionId) throw new WriteConflictError(`AWSCURRENT of ${secretId} moved`);
    this.current.set(secretId, versionId);
  }

  valueOf(secretId: string): unknown {
    return this.#version(secretId, this.current.get(secretId))?.value;
  }

  #add(secretId: string, version: FakeVersion): void {
    this.versions.set(secretId, [...(this.versions.get(secretId) ?? []), version]);
  }

  #version(secretId: string, id: string | undefined): FakeVersion | undefined {
    return id === undefined ? undefined : this.versions.get(secretId)?.find((version) => version.id === id);
  }
}

function secretNotFound(secretId: string): StoreError {
  return new StoreError(`Secret "${secretId}" was not found`, 'secret_not_found', 'permanent');
}

export class FakeTokenStore implements TokenStore {
  constructor(readonly secrets: FakeSecrets) {}
  static secretId(provider: string): string {
    return `test/${provider}/token`;
  }
  /** As the adapter: anything but a valid token record of this provider reads as no token. */
  async readCurrent(provider: string): Promise<CurrentToken> {
    const { versionId, value } = this.secrets.read(FakeTokenStore.secretId(provider));
    const parsed = tokenRecordSchema.safeParse(value);
    const token = parsed.success && parsed.data.provider === provider ? parsed.data : undefined;
    return { versionId, token };
  }
  /** Compare-and-swap, idempotent per `(provider, fence)` from one version. */
  async write(input: Parameters<TokenStore['write']>[0]): Promise<string> {
    return this.secrets.compareAndSwap(
      FakeTokenStore.secretId(input.provider),
      input.token,
      input.expectedVersionId,
      { fence: input.fence },
    );
  }
  /** The current value when it looks like a token (for assertions; no validation). */
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
  /**
   * Errors the next writes throw, in order, after storing the new value and before making it current
   * (a holder that died between `PutSecretValue` and the stage move).
   */
  readonly interruptNextWrites: Error[] = [];
  /** When set, the next read reports that it finished this generation's unfinished write. */
  recoverNext: number | undefined;

  constructor(readonly secrets: FakeSecrets) {}
  static secretId(provider: string): string {
    return `test/${provider}/credentials`;
  }
  /**
   * As the adapter: with `recovery`, an unfinished write of an earlier generation (within
   * {@link FAKE_RECOVERY_LOOKBACK_GENERATIONS}) from the current version is made current first.
   * @throws CredentialsError `credentials_not_set` when the value is no usable credentials
   */
  async read(provider: string, recovery?: CredentialsRecovery): Promise<CurrentCredentials> {
    this.reads.push(recovery);
    const secretId = FakeCredentialsStore.secretId(provider);
    const current = this.secrets.read(secretId);
    const finished = recovery === undefined ? undefined : this.#finishWrite(secretId, current, recovery);
    const { versionId, value } =
      finished === undefined ? current : { versionId: finished.id, value: finished.value };
    const problem = credentialsProblem(value);
    if (problem !== undefined) {
      throw new CredentialsError(
        `The credentials secret "${secretId}" of provider "${provider}" ${problem}`,
        'credentials_not_set',
        { credentialsVersionId: versionId },
      );
    }
    const recoveredGeneration = this.recoverNext ?? finished?.origin?.fence;
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
    const interruption = this.interruptNextWrites.shift();
    return this.secrets.compareAndSwap(
      FakeCredentialsStore.secretId(input.provider),
      input.credentials,
      input.expectedVersionId,
      { fence: input.fence, ...(interruption === undefined ? {} : { interruption }) },
    );
  }
  /** As the adapter's `DescribeSecret`: the version holding `AWSCURRENT`, counted as `describe <id>`. */
  async currentVersionId(provider: string): Promise<string> {
    const secretId = FakeCredentialsStore.secretId(provider);
    this.secrets.calls.push(`describe ${secretId}`);
    const current = this.secrets.current.get(secretId);
    if (current === undefined) throw secretNotFound(secretId);
    return current;
  }
  credentials(provider: string): Credentials {
    return this.secrets.valueOf(FakeCredentialsStore.secretId(provider)) as Credentials;
  }

  #finishWrite(
    secretId: string,
    current: { readonly versionId: string },
    recovery: CredentialsRecovery,
  ): FakeVersion | undefined {
    const pending = this.secrets.readPending(secretId);
    const origin = pending?.origin;
    if (pending === undefined || origin === undefined || pending.id === current.versionId) return undefined;
    const oldest = Math.max(1, recovery.fence - FAKE_RECOVERY_LOOKBACK_GENERATIONS);
    const earlierGeneration = origin.fence < recovery.fence && origin.fence >= oldest;
    if (!earlierGeneration || origin.fromVersionId !== current.versionId) return undefined;
    if (credentialsProblem(pending.value) !== undefined) return undefined;
    this.secrets.moveCurrent(secretId, pending.id, current.versionId);
    return pending;
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

/**
 * The precise one-time schedule as EventBridge Scheduler keeps it: one per provider, moved by every
 * `scheduleAt`; `failNext` makes the next call throw.
 */
export class FakeNextRunScheduler implements NextRunScheduler {
  /** Every successful call, in order. */
  readonly calls: { readonly provider: string; readonly at: number }[] = [];
  readonly #pending = new Map<string, number>();
  failNext = false;

  async scheduleAt(provider: string, at: number): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('Scheduler unavailable');
    }
    this.calls.push({ provider, at });
    this.#pending.set(provider, at);
  }

  /** When the provider's one-time schedule runs, if it exists. */
  pending(provider: string): number | undefined {
    return this.#pending.get(provider);
  }

  /** The schedule fired: it is deleted (`ActionAfterCompletion: DELETE`). */
  fired(provider: string): void {
    this.#pending.delete(provider);
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
    if (item?.leaseOwner !== undefined && (item.leaseExpiresAt ?? 0) >= input.now) {
      // As the adapter: the live lease is this very attempt's (same owner, same expiry) when an
      // applied write is repeated (the SDK retrying after a lost answer); otherwise another holder's.
      const ours = item.leaseOwner === input.owner && item.leaseExpiresAt === input.leaseExpiresAt;
      return ours ? { ...item } : undefined;
    }
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
    const applied = withPreciseRun(applyRecord(rest, input.record, input.now), input.record);
    // As the adapter: a success or an observed token records the releasing generation.
    const recorded =
      input.record.outcome === 'success' || input.record.outcome === 'observed'
        ? { ...applied, recordedFence: input.fence }
        : applied;
    this.items.set(input.provider, withCredentialsVersion(recorded, input.record));
    return true;
  }

  async recordPreciseRun(input: Parameters<StateTable['recordPreciseRun']>[0]): Promise<boolean> {
    this.calls.push('recordPreciseRun');
    const item = this.items.get(input.provider);
    if (item === undefined || item.nextRefreshAt !== input.nextRefreshAt) return false;
    this.items.set(input.provider, { ...item, preciseRunFor: input.nextRefreshAt });
    return true;
  }

  async recordOnDemandRefreshes(
    input: Parameters<StateTable['recordOnDemandRefreshes']>[0],
  ): Promise<boolean> {
    this.calls.push('recordOnDemandRefreshes');
    const item = this.items.get(input.provider);
    if (item === undefined || item.leaseOwner !== input.owner || item.fence !== input.fence) return false;
    this.items.set(input.provider, { ...item, onDemandRefreshes: [...input.refreshes] });
    return true;
  }
}

/** What a success or failure says about the precise run; an observed token leaves it alone. */
function withPreciseRun(item: ProviderState, record: ReleaseRecord): ProviderState {
  if (record.outcome === 'observed' || record.outcome === 'unchanged') return item;
  const { preciseRunFor: _previous, ...rest } = item;
  return record.preciseRunFor === undefined ? rest : { ...rest, preciseRunFor: record.preciseRunFor };
}

/** The credentials version a run used, when its record has one; kept otherwise. */
function withCredentialsVersion(item: ProviderState, record: ReleaseRecord): ProviderState {
  if (record.outcome === 'unchanged') return item;
  return record.credentialsVersionId === undefined
    ? item
    : { ...item, credentialsVersionId: record.credentialsVersionId };
}

function applyRecord(item: ProviderState, record: ReleaseRecord, now: number): ProviderState {
  switch (record.outcome) {
    case 'unchanged':
      return item;
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
