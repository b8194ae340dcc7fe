/**
 * Every worker Stitch knows, registered in one explicit list. To add one: write its class
 * (src/lib/workers/<name>.ts), add its definition to WORKER_DEFINITIONS (registry.ts), and register
 * it below. Start-up refuses a registration without a definition and vice versa.
 */
import { workerRegistry } from './registry';
import { TransformWorker } from './transform';
import { WaitWorker } from './wait';
import { ClaudeWorker } from './claude';
import { SceneParserWorker } from './scene-parser';
import { MiniMaxWorker } from './minimax';
import { ElevenLabsWorker } from './elevenlabs';
import { ShotstackWorker } from './shotstack';
import { HttpWebhookWorker } from './http-webhook';

export { workerRegistry, isValidWorkerType, getWorkerDefinition, WORKER_DEFINITIONS, checkRegistry } from './registry';
export type { IWorker } from './base';
export { TransformWorker } from './transform';
export { WaitWorker } from './wait';
export { ClaudeWorker } from './claude';
export { SceneParserWorker } from './scene-parser';
export { MiniMaxWorker } from './minimax';
export { ElevenLabsWorker } from './elevenlabs';
export { ShotstackWorker } from './shotstack';
export { HttpWebhookWorker } from './http-webhook';

workerRegistry.register('transform', TransformWorker);
workerRegistry.register('wait', WaitWorker);
workerRegistry.register('claude', ClaudeWorker);
workerRegistry.register('scene-parser', SceneParserWorker);
workerRegistry.register('minimax', MiniMaxWorker);
workerRegistry.register('elevenlabs', ElevenLabsWorker);
workerRegistry.register('shotstack', ShotstackWorker);
workerRegistry.register('http-webhook', HttpWebhookWorker);
