/**
 * Every limit is documented where an operator looks (design §10): each entry of
 * `LIMIT_VARIABLES` has a row in the "Limits" table of docs/architecture.md naming its variable
 * and default, a row in the README's configuration table, and a line in `.env.example`; and the
 * config refuses a value that is not a whole number of at least 1.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMIT_VARIABLES, getConfig } from '@/lib/config';

const root = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** The rows of the table under `## Limits` in docs/architecture.md. */
function limitsTable(): string[] {
  const doc = read('docs/architecture.md');
  const section = doc.slice(doc.indexOf('\n## Limits\n'));
  const end = section.indexOf('\n## ', 5);
  return (end < 0 ? section : section.slice(0, end)).split('\n').filter((line) => line.startsWith('|'));
}

describe('limits are documented', () => {
  const rows = limitsTable();
  const readme = read('README.md');
  const example = read('.env.example');
  const limits = [...Object.values(LIMIT_VARIABLES), { variable: 'STITCH_BODY_LIMIT_BYTES', default: 1024 * 1024 }];

  it.each(limits)('$variable: a Limits row with its default, a README row, a .env.example line', ({ variable, default: fallback }) => {
    const row = rows.find((r) => r.includes(`\`${variable}\``));
    expect(row, `no row for ${variable} in docs/architecture.md "Limits"`).toBeDefined();
    expect(row).toContain(`\`${fallback}\``);
    expect(readme).toMatch(new RegExp(`^\\| \`${variable}\` \\| \`${fallback}\` \\|`, 'm'));
    expect(example).toMatch(new RegExp(`^${variable}=${fallback}$`, 'm'));
  });

  it('defaults apply, and a limit must be a whole number of at least 1', () => {
    const config = getConfig({});
    for (const [field, { default: fallback }] of Object.entries(LIMIT_VARIABLES)) expect(config.limits[field as keyof typeof LIMIT_VARIABLES]).toBe(fallback);
    const [first] = Object.values(LIMIT_VARIABLES);
    expect(getConfig({ [first.variable]: '7' }).limits).toMatchObject({ [Object.keys(LIMIT_VARIABLES)[0]]: 7 });
    for (const bad of ['0', '-1', '1.5', 'many']) expect(() => getConfig({ [first.variable]: bad }), bad).toThrow(first.variable);
  });
});
