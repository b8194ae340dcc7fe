/**
 * Media for mock mode: the sample videos in `assets/mock/` (made with ffmpeg, see its README),
 * copied into storage so their URLs resolve wherever storage serves from, and generated speech
 * WAVs whose length follows the text (~150 words a minute).
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { exists, put, getStorage } from '@/lib/storage';

const ASSETS = fileURLToPath(new URL('../../../assets/mock/', import.meta.url));

export const MOCK_SCENE_VIDEOS = ['scene-1.mp4', 'scene-2.mp4', 'scene-3.mp4'] as const;
/** Every sample scene clip lasts this long (seconds). */
export const MOCK_SCENE_SECONDS = 6;
export const MOCK_RENDER_VIDEO = 'render.mp4';

/** Copy a sample from assets/mock into storage (once) and return its URL. */
export async function storeMockAsset(file: string): Promise<string> {
  const key = `mock/${file}`;
  if (await exists(key)) return (await getStorage()).url(key);
  return put(key, createReadStream(path.join(ASSETS, file)), file.endsWith('.mp4') ? 'video/mp4' : 'application/octet-stream');
}

/** A short stable id from the given parts ("mock-3f9a…"). */
export function mockId(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/** Pick a sample deterministically from a text. */
export function pickSample<T>(list: readonly T[], text: string): T {
  return list[parseInt(mockId(text).slice(0, 8), 16) % list.length];
}

const WORDS_PER_SECOND = 2.5;

/** Spoken length of a text in seconds, at ~150 words a minute (at least one second). */
export function speechSeconds(text: string): number {
  const words = text.trim().split(/\s+/).filter(Boolean).length;
  return Math.max(1, Math.round((words / WORDS_PER_SECOND) * 10) / 10);
}

/**
 * A mono 16-bit PCM WAV as long as the text would take to say: one soft tone burst per word
 * (pitch from the word's letters), so players show a real, audible waveform.
 */
export function speechWav(text: string, sampleRate = 16_000): { bytes: Buffer; seconds: number } {
  const seconds = speechSeconds(text);
  const samples = Math.round(seconds * sampleRate);
  const words = text.trim().split(/\s+/).filter(Boolean);
  const perWord = words.length ? samples / words.length : samples;
  const bytes = Buffer.alloc(44 + samples * 2);
  bytes.write('RIFF', 0);
  bytes.writeUInt32LE(36 + samples * 2, 4);
  bytes.write('WAVE', 8);
  bytes.write('fmt ', 12);
  bytes.writeUInt32LE(16, 16); // PCM header size
  bytes.writeUInt16LE(1, 20); // PCM
  bytes.writeUInt16LE(1, 22); // mono
  bytes.writeUInt32LE(sampleRate, 24);
  bytes.writeUInt32LE(sampleRate * 2, 28); // byte rate
  bytes.writeUInt16LE(2, 32); // block align
  bytes.writeUInt16LE(16, 34); // bits per sample
  bytes.write('data', 36);
  bytes.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    const w = Math.min(words.length - 1, Math.floor(i / perWord));
    const word = words[w] ?? '';
    const pitch = 140 + ([...word].reduce((a, c) => a + c.charCodeAt(0), 0) % 120);
    const t = (i % perWord) / perWord; // position inside the word's slot
    const envelope = t < 0.7 ? Math.sin((Math.PI * t) / 0.7) : 0; // a burst, then a gap
    const value = 0.25 * envelope * Math.sin((2 * Math.PI * pitch * i) / sampleRate);
    bytes.writeInt16LE(Math.round(value * 32767), 44 + i * 2);
  }
  return { bytes, seconds };
}
