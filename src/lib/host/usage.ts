/** The check every host's usage report goes through first (the worker API's contract). */
import { ValidationError } from '@/lib/errors';
import type { UsageItem } from './types';

export function checkUsage(items: unknown): UsageItem[] {
  if (!Array.isArray(items)) throw new ValidationError('reportUsage: usage must be an array of {unit, quantity}');
  return items.map((item, i) => {
    const { unit, quantity, mock } = (item ?? {}) as Partial<UsageItem>;
    if (typeof unit !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(unit)) {
      throw new ValidationError(`reportUsage: usage[${i}].unit must be a snake_case unit name such as "input_tokens"`);
    }
    if (typeof quantity !== 'number' || !Number.isFinite(quantity) || quantity < 0) {
      throw new ValidationError(`reportUsage: usage[${i}].quantity must be a non-negative number`);
    }
    return { unit, quantity, mock: mock === true };
  });
}
