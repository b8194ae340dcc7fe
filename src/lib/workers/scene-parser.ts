/**
 * Scene parser: turns a script into `scenes: [{visual_prompt, voice_text, duration}]` — exactly
 * the fields `minimax` (visual_prompt) and `elevenlabs` (voice_text) read. Sync, no vendor.
 *
 * Accepted scripts, tried in order:
 *   1. JSON: `{scenes: [...]}` or `[...]`, bare or in a ```json fence inside text (Claude's usual answer);
 *      per scene `visual_prompt`/`visualPrompt`/`visual`, `voice_text`/`voiceText`/`narration`/`voiceover`.
 *   2. "Scene 1" blocks with `Visual:` and `Voice:`/`Narration:` lines (and an optional `Duration: 6s`).
 *   3. Plain paragraphs: each becomes a scene that says the paragraph and shows it.
 */
import type { NodeConfig } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import type { IWorker } from './base';
import { logWorker, triggerCallback } from './utils';
import { numberFrom } from './vendor-worker';

export interface Scene {
  visual_prompt: string;
  voice_text: string;
  duration: number;
}

const VISUAL_KEYS = ['visual_prompt', 'visualPrompt', 'visual', 'image_prompt', 'description'];
const VOICE_KEYS = ['voice_text', 'voiceText', 'narration', 'voiceover', 'voice', 'text'];

const pick = (o: Record<string, unknown>, keys: string[]) => keys.map((k) => o[k]).find((v) => typeof v === 'string' && v.trim()) as string | undefined;

function fromObjects(list: unknown[], defaultDuration: number): Scene[] {
  return list.flatMap((raw) => {
    if (!raw || typeof raw !== 'object') return [];
    const o = raw as Record<string, unknown>;
    const visual = pick(o, VISUAL_KEYS);
    const voice = pick(o, VOICE_KEYS);
    if (!visual && !voice) return [];
    const duration = numberFrom(o.duration ?? o.durationSeconds, defaultDuration);
    return [{ visual_prompt: (visual ?? voice)!.trim(), voice_text: (voice ?? visual)!.trim(), duration }];
  });
}

function jsonCandidates(text: string): unknown[] {
  const out: unknown[] = [];
  const fence = /```(?:json)?\s*([\s\S]*?)```/gi;
  for (const m of text.matchAll(fence)) out.push(m[1]);
  const first = text.search(/[[{]/);
  if (first >= 0) out.push(text.slice(first, Math.max(text.lastIndexOf('}'), text.lastIndexOf(']')) + 1));
  return out.flatMap((candidate) => {
    try {
      return [JSON.parse(String(candidate))];
    } catch {
      return [];
    }
  });
}

function fromJson(value: unknown, defaultDuration: number): Scene[] {
  if (Array.isArray(value)) return fromObjects(value, defaultDuration);
  if (value && typeof value === 'object' && Array.isArray((value as { scenes?: unknown }).scenes)) {
    return fromObjects((value as { scenes: unknown[] }).scenes, defaultDuration);
  }
  return [];
}

function fromSceneBlocks(text: string, defaultDuration: number): Scene[] {
  const blocks = text.split(/^\s*(?:#+\s*)?\**scene\s*\d+\**\s*[:.)-]?/gim).slice(1);
  return blocks.flatMap((block) => {
    const field = (re: RegExp) => re.exec(block)?.[1]?.trim();
    const visual = field(/^\s*\**(?:visual|image|shot|video)\**\s*[:-]\s*(.+)$/im);
    const voice = field(/^\s*\**(?:voice(?:[ -]?over)?|narration|narrator|vo|audio)\**\s*[:-]\s*(.+)$/im);
    const seconds = field(/^\s*\**duration\**\s*[:-]\s*([\d.]+)/im);
    const rest = block.replace(/^.*:.*$/gm, '').trim();
    if (!visual && !voice && !rest) return [];
    return [{ visual_prompt: visual ?? voice ?? rest, voice_text: voice ?? rest ?? visual!, duration: numberFrom(seconds, defaultDuration) }];
  });
}

function fromParagraphs(text: string, defaultDuration: number): Scene[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter((p) => p.length > 0)
    .map((p) => ({ visual_prompt: p, voice_text: p, duration: defaultDuration }));
}

/** Parse a script (text or an object with `scenes`) into scenes. */
export function parseScenes(script: unknown, options: { defaultDuration?: number; maxScenes?: number } = {}): Scene[] {
  const defaultDuration = options.defaultDuration ?? 6;
  let scenes: Scene[] = [];
  if (typeof script === 'string') {
    for (const candidate of jsonCandidates(script)) {
      scenes = fromJson(candidate, defaultDuration);
      if (scenes.length) break;
    }
    if (!scenes.length) scenes = fromSceneBlocks(script, defaultDuration);
    if (!scenes.length) scenes = fromParagraphs(script, defaultDuration);
  } else {
    scenes = fromJson(script, defaultDuration);
  }
  return scenes.slice(0, options.maxScenes ?? 20);
}

export class SceneParserWorker implements IWorker {
  async execute(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    logWorker('info', 'Scene parser started', { worker: 'scene-parser', runId, nodeId });
    const script = ['script', 'text', 'content'].map((k) => input?.[k]).find((v) => v !== undefined && v !== null && v !== '') ?? (Array.isArray(input?.scenes) ? input : undefined);
    if (script === undefined) throw new NonRetriableError('Missing required field: script (or text)');
    const scenes = parseScenes(script, { defaultDuration: numberFrom(config.defaultDuration, 6), maxScenes: numberFrom(config.maxScenes, 20) });
    if (!scenes.length) throw new NonRetriableError('No scenes found in the script: send JSON {scenes:[{visual_prompt, voice_text}]}, "Scene N" blocks, or paragraphs');
    const totalDuration = scenes.reduce((sum, s) => sum + s.duration, 0);
    logWorker('info', 'Scene parser finished', { worker: 'scene-parser', runId, nodeId, scenes: scenes.length });
    await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, scenes, sceneCount: scenes.length, totalDuration } });
  }
}
