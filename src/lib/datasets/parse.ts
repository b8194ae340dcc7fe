/**
 * A dataset's rows from the text a person has: JSON (an array), JSONL (one value a line) or CSV
 * (a header of input fields; `a.b` nests). A row is `{input, expected?, notes?}`. In JSON and JSONL
 * an element with an `input` key and no keys but `input`, `expected` and `notes` is such a row;
 * any other object is the input itself. In CSV the columns `expected` (or `expected.<path>`) and
 * `notes` fill those; every other column is an input field (a string; empty cells are left out).
 *
 * A file that is wrong is refused whole, naming the line (and column) that is wrong: nothing of it
 * is kept, so a half-imported dataset never exists.
 */
import { ValidationError } from '@/lib/errors';

export type DatasetFormat = 'json' | 'jsonl' | 'csv';

export interface DatasetRow {
  input: Record<string, unknown>;
  expected?: unknown;
  notes?: string;
}

const ROW_KEYS = new Set(['input', 'expected', 'notes']);

/** One problem, with the 1-based line it is on; the error lists at most this many. */
const MAX_ISSUES = 20;

interface Issue {
  code: string;
  field: string;
  line?: number;
  message: string;
}

function refuse(issues: Issue[]): never {
  const first = issues[0];
  throw new ValidationError(`The dataset is not valid: ${first.line ? `line ${first.line}: ` : ''}${first.message}`, issues.slice(0, MAX_ISSUES));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One element of a JSON array or one JSONL line as a row, or the reason it is not one. */
function rowOf(value: unknown): DatasetRow | string {
  if (!isObject(value)) return `a row must be a JSON object (the run input, or {"input": {…}, "expected": …, "notes": "…"}), not ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`;
  const keys = Object.keys(value);
  if (!('input' in value) || !keys.every((k) => ROW_KEYS.has(k))) return { input: value };
  if (!isObject(value.input)) return '"input" must be an object (the run input)';
  if (value.notes !== undefined && typeof value.notes !== 'string') return '"notes" must be a string';
  return { input: value.input, ...(value.expected !== undefined ? { expected: value.expected } : {}), ...(value.notes !== undefined ? { notes: value.notes } : {}) };
}

/** Where a JSON.parse error points, as a line of `text` (V8 says "at position N"). */
function lineOfPosition(text: string, error: unknown): number | undefined {
  const match = /position (\d+)/.exec(String((error as Error)?.message ?? ''));
  if (!match) return undefined;
  return text.slice(0, Number(match[1])).split('\n').length;
}

function parseJson(text: string): DatasetRow[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const line = lineOfPosition(text, error);
    refuse([{ code: 'invalid_json', field: 'content', line, message: 'not valid JSON (for one value a line, use format "jsonl")' }]);
  }
  if (!Array.isArray(value)) refuse([{ code: 'invalid_type', field: 'content', line: 1, message: 'a JSON dataset is an array of rows' }]);
  // JSON.parse keeps no positions: a bad element is named by its place in the array (row N).
  return checkRows(value, 'content');
}

function parseJsonl(text: string): DatasetRow[] {
  const rows: DatasetRow[] = [];
  const issues: Issue[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      issues.push({ code: 'invalid_json', field: 'content', line: i + 1, message: 'not valid JSON' });
      return;
    }
    const row = rowOf(value);
    if (typeof row === 'string') issues.push({ code: 'invalid_row', field: 'content', line: i + 1, message: row });
    else rows.push(row);
  });
  if (issues.length) refuse(issues);
  return rows;
}

/** RFC 4180 records (quoted fields may hold commas, quotes as "" and line breaks), each with the line it starts on. */
function csvRecords(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
    fields = [];
    field = '';
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte-order mark, as spreadsheets write it
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
        const next = text[i + 1];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          refuse([{ code: 'invalid_csv', field: 'content', line, message: 'a closing quote must end its field (write a quote inside a quoted field as "")' }]);
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += ch;
  }
  if (quoted) refuse([{ code: 'invalid_csv', field: 'content', line: start, message: 'a quoted field is never closed' }]);
  endRecord();
  return records;
}

/** Set `value` at a dotted path inside `target`; false when the path collides with a value already there. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown): boolean {
  let at = target;
  for (const key of path.slice(0, -1)) {
    if (at[key] === undefined) at[key] = {};
    if (!isObject(at[key])) return false;
    at = at[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (at[last] !== undefined) return false;
  at[last] = value;
  return true;
}

// Names a path segment may not take: they would reach an object's prototype.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

function parseCsv(text: string): DatasetRow[] {
  const [header, ...records] = csvRecords(text);
  if (!header) return [];
  const issues: Issue[] = [];
  const columns = header.fields.map((name, c) => {
    const path = name.trim().split('.');
    if (!name.trim() || path.some((p) => !p || FORBIDDEN_SEGMENTS.has(p))) {
      issues.push({ code: 'invalid_header', field: 'content', line: header.line, message: `column ${c + 1}: "${name}" is not a field name (dots separate nested fields)` });
    }
    return path;
  });
  const seen = new Set<string>();
  for (const path of columns) {
    const key = path.join('.');
    if (seen.has(key)) issues.push({ code: 'invalid_header', field: 'content', line: header.line, message: `column "${key}" appears twice` });
    seen.add(key);
  }
  if (issues.length) refuse(issues);
  const rows: DatasetRow[] = [];
  for (const record of records) {
    if (record.fields.length !== columns.length) {
      issues.push({ code: 'invalid_csv', field: 'content', line: record.line, message: `${record.fields.length} fields, but the header has ${columns.length}` });
      continue;
    }
    const input: Record<string, unknown> = {};
    const holder: Record<string, unknown> = {};
    let notes: string | undefined;
    record.fields.forEach((value, c) => {
      if (value === '') return;
      const path = columns[c];
      if (path.length === 1 && path[0] === 'notes') notes = value;
      else if (path[0] === 'expected') {
        if (!setPath(holder, path, value)) issues.push({ code: 'invalid_csv', field: 'content', line: record.line, message: `column "${path.join('.')}" collides with another` });
      } else if (!setPath(input, path, value)) {
        issues.push({ code: 'invalid_csv', field: 'content', line: record.line, message: `column "${path.join('.')}" collides with another` });
      }
    });
    rows.push({ input, ...(holder.expected !== undefined ? { expected: holder.expected } : {}), ...(notes !== undefined ? { notes } : {}) });
  }
  if (issues.length) refuse(issues);
  return rows;
}

/** The rows of a dataset file; a ValidationError naming the line that is wrong otherwise. */
export function parseDataset(format: DatasetFormat, content: string): DatasetRow[] {
  if (format === 'json') return parseJson(content);
  if (format === 'jsonl') return parseJsonl(content);
  return parseCsv(content);
}

/** The format a file name says (CLI), JSON by default. */
export function formatOfFileName(name: string): DatasetFormat {
  if (/\.jsonl$|\.ndjson$/i.test(name)) return 'jsonl';
  if (/\.csv$/i.test(name)) return 'csv';
  return 'json';
}

/** Rows given as values (a JSON array, the API's `rows`), each checked; `field` names the array in errors. */
export function checkRows(values: unknown[], field = 'rows'): DatasetRow[] {
  const rows: DatasetRow[] = [];
  const issues: Issue[] = [];
  values.forEach((v, index) => {
    const row = rowOf(v);
    if (typeof row === 'string') issues.push({ code: 'invalid_row', field: `${field}[${index}]`, message: `row ${index + 1}: ${row}` });
    else rows.push(row);
  });
  if (issues.length) refuse(issues);
  return rows;
}
