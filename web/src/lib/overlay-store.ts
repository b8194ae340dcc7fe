/**
 * Per-node and per-edge overlays (run status, validation issues) kept outside React Flow's node
 * data, so the saved graph never carries UI state and an update re-renders only the nodes whose
 * overlay changed (each node subscribes to its own entry).
 */
import { useSyncExternalStore } from 'react';
import type { ValidationIssue } from '@/types/stitch';
import type { NodeRuntime } from './run-state';
import type { NodeOrigin } from '../types';

/** Where a run's node got its output and what it cost (from the run snapshot). */
export interface NodeProvenance {
  /** `reused` / `cached` when every settled instance of the node came from earlier work. */
  origin: NodeOrigin | 'mixed' | null;
  /** The run the output came from (the first reused instance's). */
  fromRunId?: string;
  costUsd: number;
}

export interface Overlay {
  runtime?: NodeRuntime;
  issues?: ValidationIssue[];
  provenance?: NodeProvenance;
}

export class OverlayStore {
  #entries: Record<string, Overlay> = {};
  #listeners = new Set<() => void>();

  get(id: string): Overlay | undefined {
    return this.#entries[id];
  }

  /** Replace one facet for all ids at once; entries whose facet did not change keep their identity. */
  setFacet<K extends keyof Overlay>(facet: K, values: Record<string, Overlay[K]>): void {
    const next: Record<string, Overlay> = {};
    let changed = false;
    const ids = new Set([...Object.keys(this.#entries), ...Object.keys(values)]);
    for (const id of ids) {
      const prev = this.#entries[id];
      const value = values[id];
      if (prev?.[facet] === value) {
        if (prev) next[id] = prev;
        continue;
      }
      changed = true;
      const entry: Overlay = { ...prev, [facet]: value };
      if (entry.runtime || entry.issues || entry.provenance) next[id] = entry;
    }
    if (!changed) return;
    this.#entries = next;
    this.#listeners.forEach((l) => l());
  }

  subscribe = (listener: () => void) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };
}

export function useOverlay(store: OverlayStore, id: string): Overlay | undefined {
  return useSyncExternalStore(store.subscribe, () => store.get(id));
}
