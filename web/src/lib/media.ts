/** Find audio, video and image URLs anywhere in a node's output, for inline previews. */

export type MediaKind = 'audio' | 'video' | 'image';
export interface MediaRef {
  kind: MediaKind;
  url: string;
  /** Dot path of the field it was found in. */
  path: string;
}

const EXT: Array<[MediaKind, RegExp]> = [
  ['audio', /\.(mp3|wav|ogg|oga|m4a|aac|flac|opus)$/i],
  ['video', /\.(mp4|webm|mov|m4v|ogv|mkv)$/i],
  ['image', /\.(png|jpe?g|gif|webp|svg|avif|bmp)$/i],
];
const KEY_HINTS: Array<[MediaKind, RegExp]> = [
  ['audio', /audio|voice|speech|sound/i],
  ['video', /video|movie|clip|render/i],
  ['image', /image|img|thumbnail|thumb|picture|poster|frame/i],
];

function kindOf(url: string, key: string): MediaKind | undefined {
  const data = /^data:(audio|video|image)\//i.exec(url);
  if (data) return data[1].toLowerCase() as MediaKind;
  if (!/^(https?:\/\/|\/)/i.test(url)) return undefined;
  let pathname = url;
  try {
    pathname = new URL(url, location.origin).pathname;
  } catch {
    return undefined;
  }
  for (const [kind, re] of EXT) if (re.test(pathname)) return kind;
  if (/url$/i.test(key)) for (const [kind, re] of KEY_HINTS) if (re.test(key)) return kind;
  return undefined;
}

/** Breadth first: top-level fields (a flow's final video) come before nested ones (each scene's clip). */
export function findMedia(value: unknown, limit = 12): MediaRef[] {
  const found: MediaRef[] = [];
  const seen = new Set<string>();
  let level: Array<{ v: unknown; path: string; key: string }> = [{ v: value, path: '', key: '' }];
  for (let depth = 0; depth <= 8 && level.length && found.length < limit; depth++) {
    const next: typeof level = [];
    for (const { v, path, key } of level) {
      if (typeof v === 'string') {
        const kind = kindOf(v, key);
        if (kind && !seen.has(v) && found.length < limit) {
          seen.add(v);
          found.push({ kind, url: v, path });
        }
      } else if (Array.isArray(v)) {
        v.forEach((item, i) => next.push({ v: item, path: path ? `${path}.${i}` : String(i), key }));
      } else if (v && typeof v === 'object') {
        for (const [k, item] of Object.entries(v)) next.push({ v: item, path: path ? `${path}.${k}` : k, key: k });
      }
    }
    level = next;
  }
  return found;
}
