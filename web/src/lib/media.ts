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

export function findMedia(value: unknown, limit = 12): MediaRef[] {
  const found: MediaRef[] = [];
  const seen = new Set<string>();
  const walk = (v: unknown, path: string, key: string, depth: number) => {
    if (found.length >= limit || depth > 8) return;
    if (typeof v === 'string') {
      const kind = kindOf(v, key);
      if (kind && !seen.has(v)) {
        seen.add(v);
        found.push({ kind, url: v, path });
      }
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, path ? `${path}.${i}` : String(i), key, depth + 1));
    } else if (v && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) walk(item, path ? `${path}.${k}` : k, k, depth + 1);
    }
  };
  walk(value, '', '', 0);
  return found;
}
