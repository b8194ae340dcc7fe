/**
 * Worker definitions (what a worker takes, gives and how it runs) and the registry of worker
 * classes. Every registered worker needs a definition here and every definition a registered
 * worker: `checkRegistry()` names any missing piece at start-up.
 */
import type { RetryPolicy, WorkerDefinition } from '@/types/stitch';
import type { IWorker, WorkerClass } from './base';
import { getRemoteType } from './remote-types';
import { definitionSchemaProblems } from './field-schema';

export type { WorkerDefinition } from '@/types/stitch';

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000, maxBackoffMs: 60_000 };
export { DEFAULT_TIMEOUT_SECONDS } from '@/lib/host/attempt';

export const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {
  transform: {
    id: 'transform',
    name: 'Transform',
    type: 'sync',
    category: 'Data',
    description:
      'Shape data without code: keep (pick) or drop (omit) fields, rename them, and set fields from ' +
      'templates like "{{title}} – part {{part}}" or constants.',
    input: {},
    output: {},
    config: {
      pick: [],
      omit: [],
      rename: {},
      set: {},
    },
    retry: { attempts: 1 },
  },
  wait: {
    id: 'wait',
    name: 'Wait',
    type: 'async',
    category: 'Flow control',
    description:
      'Pause this branch for config.seconds, then pass the input on. Durable: the wake-up is a ' +
      'scheduled queue job, so a restart in the middle loses nothing.',
    input: {},
    output: {
      waitedSeconds: { type: 'number', description: 'How long the node waited' },
    },
    config: { seconds: 1 },
    retry: { attempts: 1 },
    timeoutSeconds: 86_400 * 30,
  },

  // ── Built-in integrations (docs/integrations.md: formats, sources, mock mode, limits) ──
  claude: {
    id: 'claude',
    name: 'Claude',
    type: 'sync',
    category: 'AI',
    description:
      'Ask Claude (Anthropic Messages API). The prompt is config.prompt rendered against the input ' +
      '("A script about {{topic}}"), else input.prompt. Streams the text as it is written; outputs it, with token usage in the node metadata.',
    input: {
      prompt: { type: 'string', required: false, aliases: ['text'], description: 'The prompt, when config.prompt is empty' },
    },
    output: {
      text: { type: 'string', description: "Claude's answer" },
      usage: { type: 'object', description: '{inputTokens, outputTokens}' },
    },
    config: { model: 'claude-sonnet-4-5', maxTokens: 1024, system: '', temperature: 0.7, prompt: '', requestTimeoutSeconds: 120, mockScenes: 3, mockStreamSeconds: 1 },
    retry: { attempts: 3, backoffMs: 2000, maxBackoffMs: 60_000 },
  },
  'scene-parser': {
    id: 'scene-parser',
    name: 'Scene parser',
    type: 'sync',
    category: 'Video',
    description:
      'Turn a script (JSON scenes, "Scene N" blocks with Visual:/Voice: lines, or paragraphs) into ' +
      'scenes: [{visual_prompt, voice_text, duration}] — the fields minimax and elevenlabs read.',
    input: {
      script: { type: 'string', required: true, aliases: ['text', 'content'], description: 'The script (e.g. Claude\'s text)' },
    },
    output: {
      scenes: { type: 'array', description: '[{visual_prompt, voice_text, duration}]' },
      sceneCount: { type: 'number', description: 'Number of scenes' },
      totalDuration: { type: 'number', description: 'Sum of scene durations, seconds' },
    },
    config: { defaultDuration: 6, maxScenes: 20 },
    retry: { attempts: 1 },
  },
  minimax: {
    id: 'minimax',
    name: 'MiniMax video',
    type: 'async',
    category: 'Video',
    description:
      'Text-to-video with MiniMax (Hailuo). Async: completes on MiniMax\'s callback (verification ' +
      'handshake included) or, past the deadline, by querying the task; outputs the video\'s download URL.',
    input: {
      visual_prompt: { type: 'string', required: true, aliases: ['visualPrompt', 'prompt'], description: 'What the clip shows (≤ 2000 characters)' },
    },
    output: {
      videoUrl: { type: 'string', description: 'URL of the generated MP4' },
      videoDuration: { type: 'number', description: 'Clip length, seconds' },
      minimaxTaskId: { type: 'string', description: 'MiniMax task id' },
    },
    config: { model: 'MiniMax-Hailuo-02', duration: 6, resolution: '768P', promptOptimizer: true, pollIntervalSeconds: 30, requestTimeoutSeconds: 30, mockDelaySeconds: 3 },
    retry: { attempts: 3, backoffMs: 5000, maxBackoffMs: 120_000 },
    timeoutSeconds: 900,
  },
  elevenlabs: {
    id: 'elevenlabs',
    name: 'ElevenLabs voice',
    type: 'sync',
    category: 'Audio',
    description:
      'Text-to-speech with ElevenLabs. Pseudo-async: calls the API, streams the audio into Stitch storage ' +
      'and outputs audioUrl (served by the same storage) and its duration.',
    input: {
      voice_text: { type: 'string', required: true, aliases: ['voiceText', 'text'], description: 'What to say' },
    },
    output: {
      audioUrl: { type: 'string', description: 'URL of the stored audio' },
      audioDuration: { type: 'number', description: 'Audio length, seconds' },
      audioFormat: { type: 'string', description: 'e.g. mp3_44100_128' },
    },
    config: { voiceId: '21m00Tcm4TlvDq8ikWAM', modelId: 'eleven_multilingual_v2', outputFormat: 'mp3_44100_128', voiceSettings: null, requestTimeoutSeconds: 120 },
    retry: { attempts: 3, backoffMs: 2000, maxBackoffMs: 60_000 },
  },
  shotstack: {
    id: 'shotstack',
    name: 'Shotstack render',
    type: 'async',
    category: 'Video',
    description:
      'Render scenes ({videoUrl, audioUrl, duration}) back to back into one video with Shotstack. Async: ' +
      'completes on Shotstack\'s render callback or, past the deadline, by reading the render status.',
    input: {
      scenes: { type: 'array', required: true, aliases: ['results', 'clips', 'items'], description: '[{videoUrl, audioUrl?, duration?}] in order' },
    },
    output: {
      finalVideoUrl: { type: 'string', description: 'URL of the rendered video' },
      duration: { type: 'number', description: 'Length of the timeline, seconds' },
      shotstackRenderId: { type: 'string', description: 'Shotstack render id' },
    },
    config: { stage: 'stage', format: 'mp4', resolution: 'sd', background: '#000000', defaultClipSeconds: 6, pollIntervalSeconds: 15, requestTimeoutSeconds: 30, mockDelaySeconds: 3 },
    retry: { attempts: 3, backoffMs: 5000, maxBackoffMs: 120_000 },
    timeoutSeconds: 900,
  },
  'http-webhook': {
    id: 'http-webhook',
    name: 'HTTP webhook',
    type: 'async',
    category: 'Integrations',
    description:
      'Hand the node to an external service: POST {runId, nodeId, input, callbackUrl} (HMAC-signed) to ' +
      'config.webhookUrl; the service completes the node through callbackUrl. Private addresses are refused.',
    input: {},
    output: {},
    config: { webhookUrl: '', requestTimeoutSeconds: 30 },
    retry: { attempts: 3, backoffMs: 2000, maxBackoffMs: 60_000 },
    timeoutSeconds: 3600,
  },
};

export class WorkerRegistry {
  #classes = new Map<string, WorkerClass>();
  #instances = new Map<string, IWorker>();

  /** Register a worker class under a type name (the node's `data.workerType`). */
  register(type: string, WorkerClass: WorkerClass): void {
    if (!type || typeof type !== 'string') throw new Error('workerRegistry.register: type must be a non-empty string');
    if (this.#classes.has(type) && this.#classes.get(type) !== WorkerClass) {
      throw new Error(`Worker type "${type}" is already registered with another class (${this.#classes.get(type)?.name})`);
    }
    this.#classes.set(type, WorkerClass);
  }

  /** The worker instance for a type, constructed on first use (so mock mode is announced once). */
  getWorker(type: string): IWorker {
    const existing = this.#instances.get(type);
    if (existing) return existing;
    const WorkerClass = this.#classes.get(type);
    if (!WorkerClass) {
      throw new Error(
        `Worker type "${type}" is not registered. Register it in src/lib/workers/index.ts: ` +
          `workerRegistry.register('${type}', YourWorker)`,
      );
    }
    const instance = new WorkerClass();
    this.#instances.set(type, instance);
    return instance;
  }

  has(type: string): boolean {
    return this.#classes.has(type);
  }

  types(): string[] {
    return [...this.#classes.keys()];
  }

  /** Forget constructed instances so the next `getWorker` re-reads configuration (tests, reloads). */
  resetInstances(): void {
    this.#instances.clear();
  }

  unregister(type: string): void {
    this.#classes.delete(type);
    this.#instances.delete(type);
  }
}

export const workerRegistry = new WorkerRegistry();

/** True when a worker class is registered for `type`, or a remote worker announced it. */
export function isValidWorkerType(type: string): boolean {
  return workerRegistry.has(type) || getRemoteType(type) !== undefined;
}

/** Worker types that can run: registered with a class and described in WORKER_DEFINITIONS (the original Stitch's API). */
export function getAvailableWorkerTypes(): string[] {
  return Object.keys(WORKER_DEFINITIONS).filter((type) => workerRegistry.has(type));
}

/** A local definition, else a remote type's (src/lib/workers/remote-types.ts). */
export function getWorkerDefinition(type: string): WorkerDefinition | undefined {
  if (Object.prototype.hasOwnProperty.call(WORKER_DEFINITIONS, type)) return WORKER_DEFINITIONS[type];
  return getRemoteType(type)?.definition;
}

/** Registrations and definitions that do not match, each as a sentence that names the fix. */
export function checkRegistry(): string[] {
  const problems: string[] = [];
  for (const type of workerRegistry.types()) {
    if (!getWorkerDefinition(type)) {
      problems.push(
        `Worker "${type}" is registered but has no definition: add '${type}' to WORKER_DEFINITIONS in src/lib/workers/registry.ts.`,
      );
    }
  }
  for (const [key, def] of Object.entries(WORKER_DEFINITIONS)) {
    if (!workerRegistry.has(key)) {
      problems.push(
        `Worker definition "${key}" has no registered worker: add workerRegistry.register('${key}', …) to src/lib/workers/index.ts.`,
      );
    }
    if (def.id !== key) problems.push(`Worker definition "${key}" has id "${def.id}": the id must equal its key.`);
    for (const problem of definitionSchemaProblems(def)) {
      problems.push(`Worker definition "${key}" has a bad field schema at ${problem}: fix it in WORKER_DEFINITIONS (fields are {type, required?, description?, default?, aliases?}).`);
    }
  }
  return problems;
}

/** Throw at start-up when registrations and definitions drift apart. */
export function assertRegistryComplete(): void {
  const problems = checkRegistry();
  if (problems.length) throw new Error(`Worker registry is inconsistent:\n- ${problems.join('\n- ')}`);
}

/** The effective retry policy: definition defaults, then the node's override. */
export function retryPolicyFor(type: string | undefined, override?: Partial<RetryPolicy>): RetryPolicy {
  const def = type ? getWorkerDefinition(type) : undefined;
  return { ...DEFAULT_RETRY, ...def?.retry, ...override };
}
