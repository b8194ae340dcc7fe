/**
 * Switch nodes route their input down one branch. `config.cases` is an ordered list of
 * `{name, when}`; the first case whose `when` expression holds is taken, else the default case
 * (`config.default`, named "default" unless renamed). Each outgoing edge names its case in
 * `sourceHandle` (a React Flow handle) or `data.case`. Edges of the cases not taken deliver no
 * data: their targets are skipped unless another upstream delivers (see instances.ts).
 */
import type { ExecutionEdge, ExecutionNode, SwitchCase, ValidationIssue } from '@/types/stitch';
import { ExpressionError, evaluateExpression, parseExpression, type Expression } from './expression';
import { closestName } from './suggest';

const compiled = new WeakMap<ExecutionNode, Array<{ name: string; when: Expression }>>();

export function caseOfEdge(edge: ExecutionEdge): string | undefined {
  return edge.case ?? edge.sourceHandle;
}

export function defaultCaseOf(node: ExecutionNode): string {
  return typeof node.config.default === 'string' && node.config.default ? node.config.default : 'default';
}

function casesOf(node: ExecutionNode): SwitchCase[] {
  return Array.isArray(node.config.cases) ? node.config.cases : [];
}

/** Save-time checks: cases well formed, expressions parse, every edge names a known case. */
export function checkSwitch(node: ExecutionNode, outEdges: ExecutionEdge[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const cases = casesOf(node);
  if (!Array.isArray(node.config.cases) || cases.length === 0) {
    issues.push({
      code: 'switch_without_cases',
      nodeId: node.id,
      field: 'cases',
      message: `Switch "${node.id}" needs config.cases: a list like [{"name": "big", "when": "size > 10"}] (edges name a case or "${defaultCaseOf(node)}").`,
    });
  }
  const names = new Set<string>();
  cases.forEach((c, index) => {
    const name = (c as { name?: unknown })?.name;
    if (typeof name !== 'string' || name === '') {
      issues.push({ code: 'invalid_switch_case', nodeId: node.id, field: `cases.${index}.name`, message: `Switch "${node.id}": case #${index} needs a non-empty "name".` });
      return;
    }
    if (names.has(name) || name === defaultCaseOf(node)) {
      issues.push({ code: 'duplicate_switch_case', nodeId: node.id, field: `cases.${index}.name`, message: `Switch "${node.id}": case name "${name}" is used twice (or is the default's name); give each case its own name.` });
    }
    names.add(name);
    try {
      parseExpression(c.when as string);
    } catch (error) {
      const detail = error instanceof ExpressionError ? error.message : 'it must be a string';
      issues.push({
        code: 'invalid_switch_expression',
        nodeId: node.id,
        field: `cases.${index}.when`,
        message: `Switch "${node.id}", case "${name}": the condition ${JSON.stringify(c.when)} does not parse (${detail}). Write e.g. status == "ok" and score >= 0.5.`,
      });
    }
  });
  const known = [...names, defaultCaseOf(node)];
  for (const edge of outEdges) {
    const name = caseOfEdge(edge);
    if (name === undefined) {
      issues.push({
        code: 'switch_edge_without_case',
        nodeId: node.id,
        edgeId: edge.id,
        field: 'case',
        message: `Edge "${edge.id}" leaves switch "${node.id}" without naming a case: set its sourceHandle or data.case to one of ${known.map((k) => `"${k}"`).join(', ')}.`,
      });
    } else if (!known.includes(name)) {
      const suggestion = closestName(name, known);
      issues.push({
        code: 'unknown_switch_case',
        nodeId: node.id,
        edgeId: edge.id,
        field: 'case',
        suggestion,
        message:
          `Edge "${edge.id}" leaves switch "${node.id}" on case "${name}", which the switch does not define` +
          `${suggestion ? ` — did you mean "${suggestion}"?` : ''} Cases: ${known.map((k) => `"${k}"`).join(', ')}.`,
      });
    }
  }
  return issues;
}

/** The case a switch takes for this input (compiled expressions are cached per graph node). */
export function chooseCase(node: ExecutionNode, input: unknown): string {
  let cases = compiled.get(node);
  if (!cases) {
    cases = casesOf(node).map((c) => ({ name: c.name, when: parseExpression(c.when as string) }));
    compiled.set(node, cases);
  }
  return cases.find((c) => evaluateExpression(c.when, input))?.name ?? defaultCaseOf(node);
}
