/**
 * The state/lock table's item as the engine sees it: unmarshalled by hand (the schema is small and
 * fixed, and it keeps `@aws-sdk/util-dynamodb` out of the bundle), each attribute checked for its
 * type. The attributes and who writes them: `state-table.ts`.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { StoreError } from '../core/errors.js';
import type { ProviderState } from '../core/types.js';

type Item = Record<string, AttributeValue>;

/**
 * Unmarshal an item. Missing `fence`/`consecutiveFailures` read as 0. An attribute of the wrong type
 * is an error that names it: a hand-edited item should be fixed or deleted, not half-read.
 */
export function toProviderState(item: Item): ProviderState {
  const state = {
    provider: readString(item, 'provider') ?? '',
    leaseOwner: readString(item, 'leaseOwner'),
    leaseExpiresAt: readNumber(item, 'leaseExpiresAt'),
    fence: readNumber(item, 'fence') ?? 0,
    tokenExpiresAt: readNumber(item, 'tokenExpiresAt'),
    nextRefreshAt: readNumber(item, 'nextRefreshAt'),
    lastSuccessAt: readNumber(item, 'lastSuccessAt'),
    lastErrorAt: readNumber(item, 'lastErrorAt'),
    lastErrorCode: readString(item, 'lastErrorCode'),
    lastErrorPermanent: readBoolean(item, 'lastErrorPermanent'),
    consecutiveFailures: readNumber(item, 'consecutiveFailures') ?? 0,
    tokenVersionId: readString(item, 'tokenVersionId'),
    preciseRunFor: readNumber(item, 'preciseRunFor'),
    onDemandRefreshes: readNumberList(item, 'onDemandRefreshes'),
    credentialsVersionId: readString(item, 'credentialsVersionId'),
    recordedFence: readNumber(item, 'recordedFence'),
  };
  // Absent attributes stay absent (not `key: undefined`), so the state compares and logs cleanly.
  return Object.fromEntries(
    Object.entries(state).filter(([, value]) => value !== undefined),
  ) as unknown as ProviderState;
}

function readString(item: Item, name: string): string | undefined {
  const value = item[name];
  if (value === undefined) return undefined;
  if (value.S === undefined) throw invalidAttribute(item, name, 'S');
  return value.S;
}

function readNumber(item: Item, name: string): number | undefined {
  const value = item[name];
  if (value === undefined) return undefined;
  const number = value.N === undefined ? Number.NaN : Number(value.N);
  if (!Number.isFinite(number)) throw invalidAttribute(item, name, 'N');
  return number;
}

/** A list of numbers (`L` of `N`), as `recordOnDemandRefreshes` writes it. */
function readNumberList(item: Item, name: string): number[] | undefined {
  const value = item[name];
  if (value === undefined) return undefined;
  if (value.L === undefined) throw invalidAttribute(item, name, 'L');
  return value.L.map((entry) => {
    const number = entry.N === undefined ? Number.NaN : Number(entry.N);
    if (!Number.isFinite(number)) throw invalidAttribute(item, name, 'L of N');
    return number;
  });
}

function readBoolean(item: Item, name: string): boolean | undefined {
  const value = item[name];
  if (value === undefined) return undefined;
  if (value.BOOL === undefined) throw invalidAttribute(item, name, 'BOOL');
  return value.BOOL;
}

function invalidAttribute(item: Item, name: string, type: string): StoreError {
  return new StoreError(
    `State item of provider "${item.provider?.S ?? '?'}" has attribute "${name}" that is not of type ${type}; ` +
      'fix or delete the item (it is rebuilt at the next refresh)',
    'state_item_invalid',
    'permanent',
  );
}
