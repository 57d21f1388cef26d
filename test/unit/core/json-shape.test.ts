import { describe, expect, it } from 'vitest';
import { type JsonShape, shapeParser, shapeProblems } from '../../../functions/core/json-shape.js';

const SECRET = 'sk_live_do_not_echo';

describe('Function: shapeProblems', () => {
  it('accepts a value of the shape and names the path of each problem, never the value', () => {
    // Prepare
    const schema: JsonShape = {
      type: 'object',
      properties: {
        name: { type: 'string', pattern: '^[a-z]+$', maxLength: 8 },
        count: { type: 'integer', minimum: 1, maximum: 3 },
        url: { type: 'string', format: 'uri' },
        tags: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string', minLength: 1 } },
        mode: { type: 'string', enum: ['a', 'b'] },
        kind: { type: 'string', const: 'k' },
      },
      required: ['name', 'count'],
      additionalProperties: false,
    };

    // Act
    const good = shapeProblems(schema, {
      name: 'abc',
      count: 2,
      url: 'https://x.example/',
      tags: ['t'],
      mode: 'a',
      kind: 'k',
    });
    const bad = shapeProblems(schema, {
      name: `${SECRET}-TOO-LONG`,
      count: 2.5,
      url: SECRET,
      tags: ['', SECRET, 'c'],
      mode: SECRET,
      kind: SECRET,
      [SECRET]: 1,
    });

    // Assess
    expect(good).toEqual([]);
    expect(bad).toEqual([
      'name: must have at most 8 characters',
      'name: must match ^[a-z]+$',
      'count: must be a whole number (got a number)',
      'url: must be a URL',
      'tags: must list at most 2 items',
      'tags[0]: must have at least 1 character',
      'mode: must be one of "a", "b"',
      'kind: must be "k"',
      `${SECRET}: is not a field of this object; remove it`,
    ]);
    expect(bad.filter((problem) => problem.includes(SECRET) && !problem.startsWith(SECRET))).toEqual([]);
  });

  it('reports a missing field and a wrong type by path, the value itself under the root name', () => {
    const schema: JsonShape = {
      type: 'object',
      properties: { detail: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
      required: ['detail'],
    };
    expect(shapeProblems(schema, { detail: {} }, 'event')).toEqual(['detail.id: is required']);
    expect(shapeProblems(schema, { detail: [] }, 'event')).toEqual([
      'detail: must be an object (got a list)',
    ]);
    expect(shapeProblems(schema, 'x', 'event')).toEqual(['event: must be an object (got a string)']);
    expect(shapeProblems(schema, null, 'event')).toEqual(['event: must be an object (got null)']);
  });

  it('checks records: their values by additionalProperties, their keys by propertyNames without repeating a key', () => {
    const schema: JsonShape = {
      type: 'object',
      propertyNames: { type: 'string', maxLength: 4 },
      additionalProperties: { type: 'string' },
    };
    expect(shapeProblems(schema, { ok: 'v' })).toEqual([]);
    expect(shapeProblems(schema, { ok: 1, [SECRET]: 'v' })).toEqual([
      'ok: must be a string (got a whole number)',
      'value: has a key that breaks a rule (it may have at most 4 characters)',
    ]);
  });

  it('reports a date-time format as the format, not as its long pattern', () => {
    const schema: JsonShape = { type: 'string', format: 'date-time', pattern: '^\\d{4}-.*Z$' };
    expect(shapeProblems(schema, '2026-01-31T12:00:00Z')).toEqual([]);
    expect(shapeProblems(schema, '2026-01-31T12:00:00+01:00')).toEqual([
      'value: must be an ISO-8601 date-time with a time zone, e.g. "2026-01-31T12:00:00Z"',
    ]);
    for (const impossible of ['2026-13-01T12:00:00Z', '2026-02-30T12:00:00Z', '2026-01-31T24:00:00Z']) {
      expect(shapeProblems({ type: 'string', format: 'date-time' }, impossible)).toHaveLength(1);
    }
    expect(shapeProblems({ type: 'string', format: 'date-time' }, '2028-02-29T23:59:59.5+14:00')).toEqual([]);
  });

  describe('alternatives', () => {
    const oneOf: JsonShape = {
      oneOf: [
        {
          type: 'object',
          properties: { grant: { const: 'a' }, url: { type: 'string', format: 'uri' } },
          required: ['grant', 'url'],
        },
        {
          type: 'object',
          properties: { grant: { const: 'b' }, n: { type: 'integer' } },
          required: ['grant'],
        },
      ],
    };

    it('reports the problems of the branch the discriminator names', () => {
      expect(shapeProblems(oneOf, { grant: 'a', url: 'https://x.example/' })).toEqual([]);
      expect(shapeProblems(oneOf, { grant: 'a' }, 'provider')).toEqual(['url: is required']);
      expect(shapeProblems(oneOf, { grant: 'b', n: 'x' })).toEqual([
        'n: must be a whole number (got a string)',
      ]);
      expect(shapeProblems(oneOf, { grant: SECRET })).toEqual(['grant: must be one of "a", "b"']);
    });

    it('applies the keywords beside the alternatives too', () => {
      const schema: JsonShape = { type: 'object', required: ['grant'], ...oneOf };
      expect(shapeProblems(schema, [])).toEqual(['value: must be an object (got a list)']);
      expect(shapeProblems(schema, {})).toEqual(['grant: is required']);
    });

    it('refuses a value that matches more than one branch of a oneOf', () => {
      expect(shapeProblems({ oneOf: [{ type: 'string' }, { type: 'string', maxLength: 9 }] }, 'x')).toEqual([
        'value: matches more than one allowed form',
      ]);
    });

    it('takes the only branch of the value type for an anyOf, else says none matched', () => {
      const anyOf: JsonShape = {
        anyOf: [
          { type: 'integer', minimum: 0 },
          { type: 'string', pattern: '^\\d+s$' },
        ],
      };
      expect(shapeProblems(anyOf, 5)).toEqual([]);
      expect(shapeProblems(anyOf, '5s')).toEqual([]);
      expect(shapeProblems(anyOf, -1)).toEqual(['value: must be at least 0']);
      expect(shapeProblems(anyOf, true)).toEqual(['value: matches none of the allowed forms']);
    });
  });
});

describe('Function: shapeParser', () => {
  it('returns the value itself when it passes, the problems when it does not', () => {
    const parser = shapeParser<{ id: string }>(
      { type: 'object', properties: { id: { type: 'string' } } },
      'event',
    );
    const value = { id: 'x' };
    expect(parser.safeParse(value)).toEqual({ success: true, data: value });
    expect(parser.safeParse({ id: 1 })).toEqual({
      success: false,
      problems: ['id: must be a string (got a whole number)'],
    });
  });
});
