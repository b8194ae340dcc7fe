/**
 * Save-time checks of a UX gate's settings: the prompt, the deadline and the default answer. (Its
 * answer schema, `config.inputSchema`, passes the one field-schema schema in node-settings.ts.)
 */
import type { ExecutionNode, FieldSchema, ValidationIssue, WorkerDefinition } from '@/types/stitch';
import { validateInput } from '@/lib/workers/validate-input';
import { MAX_SECONDS } from './node-settings';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkUxConfig(node: ExecutionNode): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { prompt, inputSchema, timeoutSeconds, defaultAnswer } = node.config;
  if (prompt !== undefined && typeof prompt !== 'string') {
    issues.push({ code: 'invalid_ux_prompt', nodeId: node.id, field: 'prompt', message: `UX gate "${node.id}": config.prompt must be the text shown to the person answering.` });
  }
  if (timeoutSeconds !== undefined && !(typeof timeoutSeconds === 'number' && timeoutSeconds > 0 && timeoutSeconds <= MAX_SECONDS)) {
    issues.push({ code: 'invalid_ux_timeout', nodeId: node.id, field: 'timeoutSeconds', message: `UX gate "${node.id}": config.timeoutSeconds must be a number of seconds > 0 and ≤ ${MAX_SECONDS} (or left out to wait for ever).` });
  }
  if (defaultAnswer !== undefined) {
    const problems = !isPlainObject(defaultAnswer)
      ? ['it must be an object of answer fields']
      : isPlainObject(inputSchema)
        ? validateInput({ input: inputSchema as Record<string, FieldSchema> } as WorkerDefinition, defaultAnswer).problems
        : [];
    if (problems.length) {
      issues.push({ code: 'invalid_default_answer', nodeId: node.id, field: 'defaultAnswer', message: `UX gate "${node.id}": config.defaultAnswer does not fit its inputSchema: ${problems.join('; ')}.` });
    }
  }
  return issues;
}
