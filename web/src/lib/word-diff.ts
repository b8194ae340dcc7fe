/**
 * A word diff of two short texts (the comparison view marks what a variant's output changed
 * against the first variant's). Longest common subsequence over words, bounded: texts longer than
 * MAX_WORDS are compared as a whole.
 */
export type DiffPart = { text: string; kind: 'same' | 'added' };

const MAX_WORDS = 400;

export function wordDiff(base: string, text: string): DiffPart[] {
  const a = base.split(/(\s+)/);
  const b = text.split(/(\s+)/);
  if (a.length > MAX_WORDS || b.length > MAX_WORDS) return [{ text, kind: base === text ? 'same' : 'added' }];
  // lcs[i][j]: common length of a[i..] and b[j..]
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const parts: DiffPart[] = [];
  const push = (t: string, kind: DiffPart['kind']) => {
    const last = parts[parts.length - 1];
    if (last && last.kind === kind) last.text += t;
    else parts.push({ text: t, kind });
  };
  let i = 0;
  let j = 0;
  while (j < b.length) {
    if (i < a.length && a[i] === b[j]) {
      push(b[j], 'same');
      i++;
      j++;
    } else if (i < a.length && lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    else push(b[j++], 'added');
  }
  return parts;
}
