/**
 * Every worker Stitch knows, registered in one explicit list. To add one: write its class
 * (src/lib/workers/<name>.ts), add its definition to WORKER_DEFINITIONS (registry.ts), and register
 * it below. Start-up refuses a registration without a definition and vice versa.
 */
import { workerRegistry } from './registry';
import { TransformWorker } from './transform';
import { WaitWorker } from './wait';

export { workerRegistry, isValidWorkerType, getWorkerDefinition, WORKER_DEFINITIONS, checkRegistry } from './registry';
export type { IWorker } from './base';
export { TransformWorker } from './transform';
export { WaitWorker } from './wait';

workerRegistry.register('transform', TransformWorker);
workerRegistry.register('wait', WaitWorker);
