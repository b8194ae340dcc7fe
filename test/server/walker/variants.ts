/**
 * Hostile input for the route walker: a minimal valid body built from the operation's schema (so
 * hostile fields reach the handler, past validation), hostile values for each of its fields,
 * hostile whole bodies, sizes and content types, and hostile path segments and query values.
 * Values are JSON *text*: `1e400`, 100,000-deep nesting and duplicate keys have no JS value.
 */
import type { JsonSchema } from './routes';

/**
 * Path segments, as they go on the wire (already percent-encoded, or deliberately malformed). Each
 * list puts what `npm test` sends first; `STITCH_WALK_FULL=1` sends all of it.
 */
export function hostileSegments(fixture: string): string[] {
  return [
    '__proto__',
    'toString',
    'x'.repeat(10_240),
    '%00',
    encodeURIComponent('😀🧵'),
    '%',
    '%E0%A4%A',
    '%2e%2e%2f%2e%2e',
    fixture.toUpperCase(),
    `${fixture}%00`,
    // full walk only
    'constructor',
    'a%00b',
    '%C0%AF',
    '%FF',
    '..',
    'a%2Fb',
    '-1',
    '1e400',
    '%20',
    'null',
    '00000000-0000-0000-0000-000000000000',
  ];
}

/** Query values (encoded). */
export const HOSTILE_QUERY_VALUES = ['%', '%00', '1e400', '-1', 'x'.repeat(10_240), '', '%E0%A4%A', '0', '1.5', '__proto__', encodeURIComponent('😀')];

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Values for one field of an otherwise valid body. */
export const HOSTILE_VALUES: Array<[string, string]> = [
  ['NUL', '"\\u0000"'],
  ['inner NUL', '"a\\u0000b"'],
  ['lone surrogate', '"\\ud800"'],
  ['10 KB string', JSON.stringify('x'.repeat(10_240))],
  ['1e400', '1e400'],
  ['2^64', '18446744073709551616'],
  ['deep object', deepObject(5_000)],
  ['deep array', deepArray(20_000)],
  ['prototype keys', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"toString":"x","hasOwnProperty":1}'],
  ['null', 'null'],
  // full walk only
  ['emoji 8 KB', JSON.stringify('😀'.repeat(2000))],
  ['-1e400', '-1e400'],
  ['1e308', '1e308'],
  ['-0', '-0'],
  ['true', 'true'],
  ['array', '[]'],
  ['object', '{}'],
  ['empty string', '""'],
];

/** Whole bodies (raw bytes) sent as application/json. */
export function hostileBodies(validText: string | undefined): Array<[string, Buffer]> {
  const bodies: Array<[string, string | Buffer]> = [
    ['0 bytes', ''],
    ['space', ' '],
    ['truncated', '{'],
    ['null', 'null'],
    ['array', '[]'],
    ['string', '"x"'],
    ['number 1e400', '1e400'],
    ['two documents', '{"a":1}{"b":2}'],
    ['deep array 100k', deepArray(100_000)],
    ['deep object 20k', deepObject(20_000)],
    ['prototype keys', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('"}')])],
    ['NUL byte', Buffer.from('{"a":"\0"}')],
  ];
  if (validText) {
    bodies.push(['valid', validText]);
    bodies.push(['valid with a BOM', `\ufeff${validText}`]);
    bodies.push(['valid, UTF-16', Buffer.from(validText, 'utf16le')]);
  }
  return bodies.map(([name, b]) => [name, typeof b === 'string' ? Buffer.from(b) : b]);
}

/** The valid body with one field replaced, or repeated as a duplicate key after it. */
export function fieldVariants(valid: Record<string, unknown>, values: Array<[string, string]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const keys = Object.keys(valid);
  for (const key of keys.length ? keys : ['x']) {
    for (const [name, value] of values) {
      const rest = Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key));
      out.push([`${key}=${name}`, withField(rest, key, value)]);
    }
    // A duplicate key: JSON.parse keeps the last, a streaming parser might keep the first.
    out.push([`${key} twice`, withField(valid, key, '1e400')]);
  }
  return out;
}

/** `object` as JSON text with `"key": <raw value text>` appended. */
function withField(object: Record<string, unknown>, key: string, rawValue: string): string {
  const text = JSON.stringify(object);
  return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}${JSON.stringify(key)}:${rawValue}}`;
}

/** Content types for the valid body (the route expects JSON) or for a JSON body on a binary route. */
export const CONTENT_TYPES = [
  undefined,
  'text/plain',
  'application/octet-stream',
  'multipart/form-data; boundary=walker',
  'application/json; charset=utf-16',
  // full walk only
  'application/x-www-form-urlencoded',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json-patch+json',
  'image/png',
];

/** Resolves `#/components/schemas/X`. */
export type Resolve = (schema: JsonSchema) => JsonSchema;

export function resolver(document: { components?: { schemas?: Record<string, JsonSchema> } }): Resolve {
  return (schema) => {
    let s = schema;
    for (let i = 0; s?.$ref && i < 20; i++) s = document.components?.schemas?.[s.$ref.replace('#/components/schemas/', '')] ?? {};
    return s ?? {};
  };
}

/** Optional fields set anyway: a long-poll answers at once instead of waiting its 30 s. */
const OPTIONAL_FIELDS: Record<string, unknown> = { waitSeconds: 0 };

/**
 * A minimal value the schema accepts: required properties only, minimum numbers, the first enum
 * member; `overrides` by property name supply what a schema cannot (a real token, a real graph).
 */
export function minimalValue(schema: JsonSchema, resolve: Resolve, overrides: Record<string, unknown>, depth = 0): unknown {
  const s = resolve(schema);
  if (depth > 8) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[key])) return minimalValue((s[key] as JsonSchema[])[0], resolve, overrides, depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
      for (const name of (s.required ?? []) as string[]) {
        out[name] = name in overrides ? overrides[name] : minimalValue(properties[name] ?? {}, resolve, overrides, depth + 1);
      }
      for (const [name, value] of Object.entries(OPTIONAL_FIELDS)) if (name in properties && !(name in out)) out[name] = value;
      return out;
    }
    case 'array': {
      const min = Number(s.minItems ?? 0);
      return min > 0 ? [minimalValue((s.items ?? {}) as JsonSchema, resolve, overrides, depth + 1)] : [];
    }
    case 'string':
      if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      return 'x'.repeat(Math.max(1, Number(s.minLength ?? 1)));
    case 'number':
    case 'integer':
      return Number(s.minimum ?? (typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : 1));
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}

/** What must never appear in an answer: a stack trace, a source path, the database's own words. */
export const LEAK_PATTERNS: RegExp[] = [
  /\bat [\w.<>]+ \(.*:\d+:\d+\)/,
  /node_modules|\/src\/lib\/|\.ts:\d+/,
  /\b(TypeError|ReferenceError|SyntaxError: Unexpected|RangeError): /,
  /Cannot read propert|is not a function|undefined is not/,
  /syntax error at or near|violates (unique|foreign key|not-null|check) constraint|duplicate key value/i,
  /invalid input syntax for|unsupported Unicode escape|invalid byte sequence|out of range for type/i,
  /\b(relation|column|function) "[^"]+" (does not exist|of relation)/i,
  /\bSQLSTATE\b|\bpg_catalog\b|graphile_worker\./i,
  /ECONNREFUSED|ECONNRESET|EPIPE/,
];
