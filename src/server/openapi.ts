/**
 * Routers that validate with zod and describe themselves in OpenAPI. Every router shares one
 * validation hook: a rejected body, param or query becomes a ValidationError (400) listing the
 * problems in the same `{code, field, message}` form graph validation uses.
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Hook } from '@hono/zod-openapi';
import { ValidationError } from '@/lib/errors';

export interface FieldIssue {
  code: string;
  field?: string;
  message: string;
}

/** zod issues → Stitch's validation issue list. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.slice(0, 50).map((issue) => ({
    code: issue.code,
    ...(issue.path.length ? { field: issue.path.map(String).join('.') } : {}),
    message: issue.message,
  }));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the hook is shared by routes of every input type
const validationHook: Hook<any, any, any, any> = (result) => {
  if (!result.success) {
    const issues = toFieldIssues(result.error);
    const where = result.target === 'json' ? 'body' : result.target;
    throw new ValidationError(`The request ${where} is not valid: ${issues[0]?.field ? `${issues[0].field}: ` : ''}${issues[0]?.message}`, issues);
  }
};

export function newRouter(): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook });
}

export { z };
