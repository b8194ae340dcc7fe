/** Worker definitions from `GET /api/workers`, fetched once per page load and shared. */
import { useEffect, useState } from 'react';
import type { WorkerDefinition } from '@/types/stitch';
import { api } from '../api';

let cache: Promise<WorkerDefinition[]> | undefined;

export interface WorkerDefs {
  list: WorkerDefinition[];
  byId: Record<string, WorkerDefinition>;
  loading: boolean;
  error?: string;
}

/** Ask for the catalogue now (e.g. while the editor's code loads). */
export function prefetchWorkerDefs(): void {
  cache ??= api.listWorkers();
  cache.catch(() => {
    cache = undefined;
  });
}

/** Forget the catalogue: a key set or removed changes integrations' modes (the settings page calls this). */
export function invalidateWorkerDefs(): void {
  cache = undefined;
}

const EMPTY: WorkerDefs = { list: [], byId: {}, loading: true };

export function useWorkerDefs(): WorkerDefs {
  const [state, setState] = useState<WorkerDefs>(EMPTY);
  useEffect(() => {
    let live = true;
    cache ??= api.listWorkers();
    cache.then(
      (list) => live && setState({ list, byId: Object.fromEntries(list.map((d) => [d.id, d])), loading: false }),
      (e: Error) => {
        cache = undefined;
        if (live) setState({ list: [], byId: {}, loading: false, error: e.message });
      },
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}
