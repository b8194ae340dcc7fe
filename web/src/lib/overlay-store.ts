/**
 * Per-node and per-edge overlays (run status, validation issues) kept outside React Flow's node
 * data, so the saved graph never carries UI state and an update re-renders only the nodes whose
 * overlay changed (each node subscribes to its own entry).
 */
import { useSyncExternalStore } from 'react';
import type { ValidationIssue } from '@/types/stitch';
import type { NodeRuntime } from './run-state';

export interface Overlay {
  runtime?: NodeRuntime;
  issues?: ValidationIssue[];
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
      if (entry.runtime || entry.issues) next[id] = entry;
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
