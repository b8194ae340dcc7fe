/** A handful of stroke icons (24×24 grid), inline so the bundle needs no icon font. */
import type { NodeType } from '@/types/stitch';

const PATHS: Record<string, string> = {
  start: 'M8 5.5v13l10.5-6.5z',
  end: 'M5 4v16M5 5h11l-2 4 2 4H5',
  worker: 'M13 3 5 14h6l-1 7 8-11h-6z',
  ux: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4.5 20.5c.8-3.7 3.8-6 7.5-6s6.7 2.3 7.5 6',
  splitter: 'M4 12h6M10 12l8-6M10 12l8 6M15 6h3v3M15 18h3v-3',
  collector: 'M6 6l8 6-8 6M14 12h6M17 9l3 3-3 3',
  switch: 'M6 4v8a4 4 0 0 0 4 4h8M18 16l-3-3M18 16l-3 3M6 4l-2.5 2.5M6 4l2.5 2.5',
  flow: 'M3 5h8v6H3zM13 13h8v6h-8zM7 11v5h6',
  data: 'M8 4c-2 0-2 1.5-2 3s0 3-2 5c2 2 2 3.5 2 5s0 3 2 3M16 4c2 0 2 1.5 2 3s0 3 2 5c-2 2-2 3.5-2 5s0 3-2 3',
  clock: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3 2',
  sparkles: 'M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8zM19 15l.8 2.2L22 18l-2.2.8L19 21l-.8-2.2L16 18l2.2-.8z',
  film: 'M4 5h16v14H4zM8 5v14M16 5v14M4 9.5h4M4 14.5h4M16 9.5h4M16 14.5h4',
  audio: 'M4 10v4M8 7v10M12 4v16M16 8v8M20 11v2',
  image: 'M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15.5 9.5h.01',
  text: 'M5 6V4h14v2M12 4v16M9 20h6',
  beaker: 'M9 3h6M10 3v6L5 19a1.5 1.5 0 0 0 1.3 2h11.4a1.5 1.5 0 0 0 1.3-2L14 9V3M7.5 15h9',
  globe: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM3 12h18M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM20 20l-4-4',
  layout: 'M4 5h5v5H4zM15 5h5v5h-5zM9.5 16.5h5v-0M15 14h5v5h-5zM9 7.5h6M17.5 10v4',
  history: 'M3.5 12a8.5 8.5 0 1 0 2.5-6M3.5 4v4h4M12 8v4l3 2',
  list: 'M9 6h11M9 12h11M9 18h11M4.5 6h.01M4.5 12h.01M4.5 18h.01',
  play: 'M8 5.5v13l10.5-6.5z',
  stop: 'M6 6h12v12H6z',
  retry: 'M4 12a8 8 0 0 1 14-5.3L20 9M20 4v5h-5M20 12a8 8 0 0 1-14 5.3L4 15M4 20v-5h5',
  back: 'M15 5l-7 7 7 7',
  plus: 'M12 5v14M5 12h14',
  warning: 'M12 4 2.5 20h19zM12 10v4.5M12 17.5h.01',
};

const CORE_ICON: Record<NodeType, string> = {
  start: 'start',
  worker: 'worker',
  ux: 'ux',
  splitter: 'splitter',
  collector: 'collector',
  switch: 'switch',
  end: 'end',
  flow: 'flow',
  event: 'clock',
};

const CATEGORY_ICON: Array<[RegExp, string]> = [
  [/data|transform|json/i, 'data'],
  [/flow|control|time|wait/i, 'clock'],
  [/\bai\b|llm|model|text gen|claude|gpt/i, 'sparkles'],
  [/video|render|film/i, 'film'],
  [/audio|voice|speech|sound|music/i, 'audio'],
  [/image|picture|visual/i, 'image'],
  [/text|string/i, 'text'],
  [/test/i, 'beaker'],
  [/http|web|api|network/i, 'globe'],
];

export function iconFor(type: NodeType | undefined, category?: string): string {
  if (type && type !== 'worker') return CORE_ICON[type];
  for (const [re, icon] of CATEGORY_ICON) if (category && re.test(category)) return icon;
  return 'worker';
}

export function Icon({ name, size = 16, fill }: { name: string; size?: number; fill?: boolean }) {
  const solid = fill ?? (name === 'start' || name === 'play' || name === 'stop');
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill={solid ? 'currentColor' : 'none'} stroke="currentColor" strokeWidth={solid ? 1.5 : 2} strokeLinecap="round" strokeLinejoin="round" aria-hidden>
      <path d={PATHS[name] ?? PATHS.worker} />
    </svg>
  );
}

/** The coloured square icon of a node type (or a worker's category). */
export function NodeIcon({ type, category, color, size = 28 }: { type: NodeType | undefined; category?: string; color: string; size?: number }) {
  return (
    <span className="node-icon" style={{ background: color, width: size, height: size }}>
      <Icon name={iconFor(type, category)} size={Math.round(size * 0.57)} />
    </span>
  );
}
