/**
 * The price table: USD per unit by worker type, from `prices.json` (each vendor's pricing page and
 * the date it was read), with `STITCH_PRICES=<json file>` of the same shape merged over it per
 * worker type and unit. A unit without a price costs 0 and is still recorded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILT_IN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prices.json');

export interface PriceEntry {
  source?: string;
  read?: string;
  note?: string;
  /** USD per unit. */
  units: Record<string, number>;
}
export type PriceTable = Record<string, PriceEntry>;

function entriesOf(raw: unknown, origin: string): PriceTable {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${origin}: the price table must be a JSON object keyed by worker type`);
  const table: PriceTable = {};
  for (const [type, entry] of Object.entries(raw)) {
    if (type.startsWith('_')) continue; // comments
    const units = (entry as { units?: unknown })?.units;
    if (typeof units !== 'object' || units === null) throw new Error(`${origin}: "${type}" needs "units": {"<unit>": <USD per unit>}`);
    for (const [unit, usd] of Object.entries(units)) {
      if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) throw new Error(`${origin}: "${type}.units.${unit}" must be a non-negative number (USD per unit)`);
    }
    table[type] = { ...(entry as PriceEntry), units: { ...(units as Record<string, number>) } };
  }
  return table;
}

let cached: { file: string | undefined; table: PriceTable } | undefined;

/** The built-in table with the STITCH_PRICES file (if set) merged over it. Read once per file name. */
export function priceTable(file: string | undefined = process.env.STITCH_PRICES || undefined): PriceTable {
  if (cached && cached.file === file) return cached.table;
  const table = entriesOf(JSON.parse(readFileSync(BUILT_IN, 'utf8')), 'prices.json');
  if (file) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`STITCH_PRICES: cannot read a JSON price table from the file it names (${(error as Error).message})`);
    }
    for (const [type, entry] of Object.entries(entriesOf(raw, 'STITCH_PRICES'))) {
      table[type] = { ...table[type], ...entry, units: { ...table[type]?.units, ...entry.units } };
    }
  }
  cached = { file, table };
  return table;
}

/** USD for `quantity` of `unit` on `workerType` (0 when the table has no price for it). */
export function priceOf(workerType: string | undefined, unit: string, quantity: number): number {
  const perUnit = workerType ? priceTable()[workerType]?.units[unit] : undefined;
  return perUnit === undefined ? 0 : perUnit * quantity;
}

/** Whether any unit of this worker type has a price: budgets stop before priced nodes only. */
export function isPriced(workerType: string | undefined): boolean {
  const units = workerType ? priceTable()[workerType]?.units : undefined;
  return !!units && Object.values(units).some((usd) => usd > 0);
}
