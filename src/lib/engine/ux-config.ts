/**
 * Save-time checks of a UX gate's settings: the answer schema, the deadline and the default answer.
 */
import type { ExecutionNode, FieldSchema, ValidationIssue, WorkerDefinition } from '@/types/stitch';
import { validateInput } from '@/lib/workers/validate-input';
import { MAX_SECONDS } from './node-settings';

const FIELD_TYPES = ['string', 'number', 'boolean', 'array', 'object'];
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkUxConfig(node: ExecutionNode): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { prompt, inputSchema, timeoutSeconds, defaultAnswer } = node.config;
  if (prompt !== undefined && typeof prompt !== 'string') {
    issues.push({ code: 'invalid_ux_prompt', nodeId: node.id, field: 'prompt', message: `UX gate "${node.id}": config.prompt must be the text shown to the person answering.` });
  }
  let schemaOk = true;
  if (inputSchema !== undefined) {
    const bad = isPlainObject(inputSchema)
      ? Object.entries(inputSchema).filter(([, f]) => !isPlainObject(f) || !FIELD_TYPES.includes(f.type as string)).map(([k]) => k)
      : ['(not an object)'];
    if (bad.length) {
      schemaOk = false;
      issues.push({
        code: 'invalid_ux_schema',
        nodeId: node.id,
        field: 'inputSchema',
        message: `UX gate "${node.id}": config.inputSchema maps answer fields to {type, required?, description}; fix ${bad.join(', ')} (type is one of ${FIELD_TYPES.join(', ')}).`,
      });
    }
  }
  if (timeoutSeconds !== undefined && !(typeof timeoutSeconds === 'number' && timeoutSeconds > 0 && timeoutSeconds <= MAX_SECONDS)) {
    issues.push({ code: 'invalid_ux_timeout', nodeId: node.id, field: 'timeoutSeconds', message: `UX gate "${node.id}": config.timeoutSeconds must be a number of seconds > 0 and ≤ ${MAX_SECONDS} (or left out to wait for ever).` });
  }
  if (defaultAnswer !== undefined) {
    const problems = !isPlainObject(defaultAnswer)
      ? ['it must be an object of answer fields']
      : schemaOk && isPlainObject(inputSchema)
        ? validateInput({ input: inputSchema as Record<string, FieldSchema> } as WorkerDefinition, defaultAnswer).problems
        : [];
    if (problems.length) {
      issues.push({ code: 'invalid_default_answer', nodeId: node.id, field: 'defaultAnswer', message: `UX gate "${node.id}": config.defaultAnswer does not fit its inputSchema: ${problems.join('; ')}.` });
    }
  }
  return issues;
}
