/** What every node and edge on a canvas reads: worker definitions, overlays, and the mode. */
import { createContext, useContext } from 'react';
import type { WorkerDefinition } from '@/types/stitch';
import { OverlayStore } from './lib/overlay-store';

export interface CanvasContextValue {
  defs: Record<string, WorkerDefinition>;
  overlays: OverlayStore;
}

export const CanvasContext = createContext<CanvasContextValue>({ defs: {}, overlays: new OverlayStore() });
export const useCanvas = () => useContext(CanvasContext);
