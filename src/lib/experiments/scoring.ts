/**
 * Scoring an experiment's cells: assertions — expressions in the switch node's language over
 * `{input, output, expected}` (`output.scenes.length >= 3`; `{{ … }}` around one is allowed) — and
 * a judge: a flow started with `{input, output, expected}` whose output is `{score, reason}`.
 * Assertions are parsed when the experiment is created, so a typo is a 400 then, not a failed score.
 */
import { ValidationError } from '@/lib/errors';
import { ExpressionError, evaluateExpression, parseExpression, type Expression } from '@/lib/engine/expression';

export const MAX_ASSERTIONS = 20;

const unwrap = (source: string) => source.trim().replace(/^\{\{([\s\S]*)\}\}$/, '$1').trim();

/** Parsed assertions; a ValidationError naming the one that does not parse. */
export function parseAssertions(sources: string[]): Expression[] {
  return sources.map((source, i) => {
    try {
      return parseExpression(unwrap(source));
    } catch (error) {
      const message = error instanceof ExpressionError ? error.message : String(error);
      throw new ValidationError(`scoring.assertions[${i}]: ${message}`, [{ code: 'invalid_expression', field: `scoring.assertions[${i}]`, message }]);
    }
  });
}

export interface AssertionResult {
  expression: string;
  passed: boolean;
}

export function checkAssertions(sources: string[], context: { input: unknown; output: unknown; expected: unknown }): AssertionResult[] {
  const parsed = parseAssertions(sources);
  return parsed.map((e, i) => ({ expression: sources[i], passed: evaluateExpression(e, context) }));
}

/**
 * A judge run's verdict: `{score, reason}` as its output, or one level down (an end node that
 * collects its upstream's output under that node's id). A score is a finite number.
 */
export function judgeVerdict(output: unknown): { score: number; reason: string | null } | undefined {
  const candidates = [output, ...(output && typeof output === 'object' && !Array.isArray(output) ? Object.values(output) : [])];
  for (const c of candidates) {
    if (c && typeof c === 'object' && typeof (c as { score?: unknown }).score === 'number' && Number.isFinite((c as { score: number }).score)) {
      const reason = (c as { reason?: unknown }).reason;
      return { score: (c as { score: number }).score, reason: typeof reason === 'string' ? reason : null };
    }
  }
  return undefined;
}
