/**
 * The original Stitch's module for worker definitions, kept so that a definitions file written
 * for it compiles here unchanged (`import { WorkerDefinition } from '@/types/worker-definition'`).
 * The types are Stitch's own, from `./stitch`, under the original's names; new code imports
 * them from `@/types/stitch`. docs/guides/porting-from-stitch.md, row 2.
 */
import type { FieldSchema, OutputFieldSchema } from './stitch';

export type { WorkerConfig, WorkerDefinition } from './stitch';

/** One input field of a definition: `{type, required?, description?, default?, aliases?}`. */
export type InputSchema = FieldSchema;

/** One output field of a definition: `{type, description?}`. */
export type OutputSchema = OutputFieldSchema;
