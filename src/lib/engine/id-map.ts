/**
 * Objects keyed by names users choose — node ids, field names. They have no prototype, so an id
 * such as `constructor`, `toString`, `hasOwnProperty` or `__proto__` is an ordinary key: a lookup
 * of a missing id finds nothing (not `Object.prototype.toString`), `in` sees only real keys, and
 * assigning `__proto__` stores a value instead of replacing the prototype.
 */
export function idMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A prototype-free copy of `entries` (an object's own entries, or pairs). */
export function toIdMap<T>(entries: Iterable<readonly [string, T]> | Record<string, T>): Record<string, T> {
  const map = idMap<T>();
  const pairs = Symbol.iterator in entries ? (entries as Iterable<readonly [string, T]>) : Object.entries(entries as Record<string, T>);
  for (const [k, v] of pairs) map[k] = v;
  return map;
}
