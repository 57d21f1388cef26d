/**
 * The rules of the `reservedConcurrency` prop (issue 15, finding 13): whole numbers of at least 1,
 * and more for the refresh function than for the read function, whose every invocation can hold one
 * on-demand refresh invocation. What the account can reserve is known only at deploy time (Lambda
 * keeps 100 unreserved); docs/security.md, "Reserved concurrency", says how to check it first.
 */
import { DEFAULT_RESERVED_CONCURRENCY, type TokenRefresherProps } from './props.js';
import type { PropsRule } from './validate-props.js';

type Reserved = { readonly refresh: number; readonly read: number };

/** The reservations the props ask for (defaults applied); `undefined` with `reservedConcurrency: false`. */
function reserved(props: TokenRefresherProps): Reserved | undefined {
  if (props.reservedConcurrency === false) return undefined;
  return {
    refresh: props.reservedConcurrency?.refresh ?? DEFAULT_RESERVED_CONCURRENCY.refresh,
    read: props.reservedConcurrency?.read ?? DEFAULT_RESERVED_CONCURRENCY.read,
  };
}

const isCount = (value: number) => Number.isInteger(value) && value >= 1;

function countRule(name: keyof Reserved): PropsRule {
  return {
    condition: (props) => {
      const values = reserved(props);
      return values !== undefined && !isCount(values[name]);
    },
    message: (props) =>
      `reservedConcurrency.${name}: is ${reserved(props)?.[name]}; it must be a whole number of at least 1 ` +
      '(0 would stop the function; pass reservedConcurrency: false for no reservation at all)',
  };
}

/** The rules, in the order their problems are listed. */
export const RESERVED_CONCURRENCY_RULES: readonly PropsRule[] = [
  countRule('refresh'),
  countRule('read'),
  {
    condition: (props) => {
      const values = reserved(props);
      return (
        values !== undefined &&
        isCount(values.refresh) &&
        isCount(values.read) &&
        values.refresh <= values.read
      );
    },
    message: (props) => {
      const values = reserved(props);
      return (
        `reservedConcurrency.refresh: is ${values?.refresh}, not more than reservedConcurrency.read (${values?.read}); ` +
        'each read invocation can hold one on-demand refresh, so a read storm could take every refresh slot and ' +
        `starve the scheduled runs: make refresh greater than read (the default is ${DEFAULT_RESERVED_CONCURRENCY.refresh} ` +
        `and ${DEFAULT_RESERVED_CONCURRENCY.read})`
      );
    },
  },
];
