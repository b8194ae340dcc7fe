/**
 * The switch node's condition language: small, safe, and parsed once at save time. No `eval`, no
 * function calls, no property writes — an expression can only read its input.
 *
 *   expr    := or
 *   or      := and (("or" | "||") and)*
 *   and     := not (("and" | "&&") not)*
 *   not     := ("not" | "!") not | test
 *   test    := "exists" path | value (op value)? | value "exists"
 *   op      := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains"
 *   value   := path | string | number | true | false | null | "[" value ("," value)* "]" | "(" expr ")"
 *
 * A path (`status`, `result.score`, `items.0.id`) reads the input; a missing path is `undefined`.
 * `==`/`!=` compare JSON values deeply without type coercion; `<` `<=` `>` `>=` hold only between two
 * numbers or two strings; `in` tests membership in an array (or a substring); `contains` is its
 * mirror; a bare value is tested for truthiness.
 */
import { isDeepStrictEqual } from 'node:util';
import { readPath } from './merge-input';

export type Expression =
  | { kind: 'literal'; value: unknown }
  | { kind: 'path'; path: string }
  | { kind: 'list'; items: Expression[] }
  | { kind: 'exists'; path: string }
  | { kind: 'not'; operand: Expression }
  | { kind: 'and' | 'or'; left: Expression; right: Expression }
  | { kind: 'compare'; op: CompareOp; left: Expression; right: Expression };

type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'contains';

export class ExpressionError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position + 1}`);
    this.name = 'ExpressionError';
  }
}

interface Token {
  type: 'word' | 'string' | 'number' | 'op' | 'end';
  text: string;
  value?: unknown;
  at: number;
}

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', ','];
const WORD = /^[A-Za-z_$][\w$]*(?:\.(?:[\w$]+))*/;
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const STRING = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < source.length) {
    const rest = source.slice(at);
    const space = /^\s+/.exec(rest);
    if (space) {
      at += space[0].length;
      continue;
    }
    const str = STRING.exec(rest);
    if (str) {
      const raw = str[0];
      const body = raw[0] === "'" ? `"${raw.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"` : raw;
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        throw new ExpressionError('Invalid escape in string', at);
      }
      tokens.push({ type: 'string', text: raw, value, at });
      at += raw.length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num && !(num[0].startsWith('-') && tokens.length && ['word', 'string', 'number'].includes(tokens[tokens.length - 1].type))) {
      tokens.push({ type: 'number', text: num[0], value: Number(num[0]), at });
      at += num[0].length;
      continue;
    }
    const word = WORD.exec(rest);
    if (word) {
      tokens.push({ type: 'word', text: word[0], at });
      at += word[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op) {
      tokens.push({ type: 'op', text: op, at });
      at += op.length;
      continue;
    }
    throw new ExpressionError(`Unexpected character "${rest[0]}"`, at);
  }
  tokens.push({ type: 'end', text: '', at: source.length });
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'exists', 'in', 'contains', 'true', 'false', 'null']);
const COMPARE: readonly string[] = ['==', '!=', '<', '<=', '>', '>=', 'in', 'contains'];

/**
 * Bounds that keep parsing and evaluation (both recursive) far from the stack's end: a condition of
 * 40,000 chained `or`s overflowed the stack at evaluation and left its run running forever.
 */
export const MAX_EXPRESSION_LENGTH = 4096;
export const MAX_EXPRESSION_NESTING = 32;

/** Parse an expression; throws ExpressionError naming the position of the first problem. */
export function parseExpression(source: string): Expression {
  if (typeof source !== 'string' || source.trim() === '') throw new ExpressionError('Empty expression', 0);
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(`The expression is ${source.length} characters long; at most ${MAX_EXPRESSION_LENGTH} are allowed`, MAX_EXPRESSION_LENGTH);
  }
  const tokens = tokenize(source);
  let i = 0;
  let depth = 0;
  /** Parentheses and `not`s nest the parser; past the bound the expression is refused. */
  const nested = <T>(at: number, parse: () => T): T => {
    if (++depth > MAX_EXPRESSION_NESTING) throw new ExpressionError(`Nested more than ${MAX_EXPRESSION_NESTING} levels deep`, at);
    try {
      return parse();
    } finally {
      depth--;
    }
  };
  const peek = () => tokens[i];
  const isWord = (w: string) => peek().type === 'word' && peek().text === w;
  const isOp = (o: string) => peek().type === 'op' && peek().text === o;
  const expect = (o: string) => {
    if (!isOp(o)) throw new ExpressionError(`Expected "${o}" but found ${describe(peek())}`, peek().at);
    i++;
  };

  /** A left-associative chain of `next` joined by the keyword or its symbol. */
  const chain = (kind: 'and' | 'or', word: string, symbol: string, next: () => Expression) => (): Expression => {
    let left = next();
    while (isWord(word) || isOp(symbol)) {
      i++;
      left = { kind, left, right: next() };
    }
    return left;
  };
  const and = chain('and', 'and', '&&', () => not());
  const or = chain('or', 'or', '||', and);
  const not = (): Expression => {
    if (isWord('not') || isOp('!')) {
      const at = peek().at;
      i++;
      return { kind: 'not', operand: nested(at, not) };
    }
    return test();
  };
  const test = (): Expression => {
    if (isWord('exists')) {
      i++;
      return { kind: 'exists', path: path() };
    }
    const left = value();
    if (isWord('exists')) {
      if (left.kind !== 'path') throw new ExpressionError('"exists" needs a field path', peek().at);
      i++;
      return { kind: 'exists', path: left.path };
    }
    const t = peek();
    if ((t.type === 'op' || t.type === 'word') && COMPARE.includes(t.text)) {
      i++;
      return { kind: 'compare', op: t.text as CompareOp, left, right: value() };
    }
    return left;
  };
  const path = (): string => {
    const t = peek();
    if (t.type !== 'word' || KEYWORDS.has(t.text)) throw new ExpressionError(`Expected a field path but found ${describe(t)}`, t.at);
    i++;
    return t.text;
  };
  const value = (): Expression => {
    const t = peek();
    if (t.type === 'string' || t.type === 'number') {
      i++;
      return { kind: 'literal', value: t.value };
    }
    if (t.type === 'word') {
      if (t.text === 'true' || t.text === 'false' || t.text === 'null') {
        i++;
        return { kind: 'literal', value: t.text === 'null' ? null : t.text === 'true' };
      }
      return { kind: 'path', path: path() };
    }
    if (isOp('(')) {
      const at = peek().at;
      i++;
      const inner = nested(at, or);
      expect(')');
      return inner;
    }
    if (isOp('[')) {
      const at = peek().at;
      i++;
      const items: Expression[] = [];
      nested(at, () => {
        if (isOp(']')) return;
        items.push(value());
        while (isOp(',')) {
          i++;
          items.push(value());
        }
      });
      expect(']');
      return { kind: 'list', items };
    }
    throw new ExpressionError(`Expected a value but found ${describe(t)}`, t.at);
  };

  const expression = or();
  if (peek().type !== 'end') throw new ExpressionError(`Unexpected ${describe(peek())}`, peek().at);
  return expression;
}

function describe(t: Token): string {
  return t.type === 'end' ? 'the end of the expression' : `"${t.text}"`;
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}

function valueOf(e: Expression, input: unknown): unknown {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'path':
      return readPath(input, e.path);
    case 'list':
      return e.items.map((item) => valueOf(item, input));
    default:
      return evaluateExpression(e, input);
  }
}

function compare(op: CompareOp, a: unknown, b: unknown): boolean {
  switch (op) {
    case '==':
      return isDeepStrictEqual(a, b);
    case '!=':
      return !isDeepStrictEqual(a, b);
    case 'in':
      return compare('contains', b, a);
    case 'contains':
      if (Array.isArray(a)) return a.some((x) => isDeepStrictEqual(x, b));
      return typeof a === 'string' && typeof b === 'string' && a.includes(b);
    default: {
      const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
      if (!comparable) return false;
      const x = a as number | string;
      const y = b as number | string;
      return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
    }
  }
}

/** Evaluate against a node's input. Never throws: a missing field is `undefined`. */
export function evaluateExpression(e: Expression, input: unknown): boolean {
  switch (e.kind) {
    case 'exists':
      return readPath(input, e.path) !== undefined && readPath(input, e.path) !== null;
    case 'not':
      return !evaluateExpression(e.operand, input);
    case 'and':
      return evaluateExpression(e.left, input) && evaluateExpression(e.right, input);
    case 'or':
      return evaluateExpression(e.left, input) || evaluateExpression(e.right, input);
    case 'compare':
      return compare(e.op, valueOf(e.left, input), valueOf(e.right, input));
    default:
      return truthy(valueOf(e, input));
  }
}
