/**
 * The node palette: the core node types, then every worker definition from `GET /api/workers`
 * grouped by `category`, filtered by a search box. Drag an entry onto the canvas, or click it to
 * add it in the middle of the view. Types served by remote workers show how many are online.
 */
import { memo, useMemo, useState } from 'react';
import type { NodeType, WorkerDefinition } from '@/types/stitch';
import { CORE_TYPES, categoryColor } from '../lib/graph';
import { NodeIcon } from './icons';
import type { Integration } from '../types';

export const DRAG_MIME = 'application/x-stitch-node';

export interface PaletteItem {
  type: NodeType;
  workerType?: string;
}

interface PaletteProps {
  defs: WorkerDefinition[];
  onAdd(item: PaletteItem): void;
  loading: boolean;
}

/** "2 online" (or "offline, seen 5 min ago") for a remote type. */
function RemoteTag({ status }: { status: NonNullable<WorkerDefinition['remote']> }) {
  const seen = status.lastSeenAt ? `last seen ${new Date(status.lastSeenAt).toLocaleString()}` : 'never seen';
  return (
    <span className={`tag${status.online ? ' tag-green' : ''}`} title={`Remote worker type · ${seen}`} data-testid="palette-remote-online" data-online={status.online}>
      {status.online ? `remote · ${status.online} online` : 'remote · offline'}
    </span>
  );
}

function PaletteView({ defs, onAdd, loading }: PaletteProps) {
  const [query, setQuery] = useState('');
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const match = (...texts: Array<string | undefined>) => !q || texts.some((t) => t?.toLowerCase().includes(q));
    const core = CORE_TYPES.filter((c) => match(c.name, c.type, c.description));
    const byCategory = new Map<string, WorkerDefinition[]>();
    for (const def of defs) {
      if (!match(def.name, def.id, def.description, def.category)) continue;
      const cat = def.category || 'Other';
      byCategory.set(cat, [...(byCategory.get(cat) ?? []), def]);
    }
    return { core, workers: [...byCategory.entries()].sort(([a], [b]) => a.localeCompare(b)) };
  }, [defs, query]);

  const drag = (item: PaletteItem) => (e: React.DragEvent) => {
    e.dataTransfer.setData(DRAG_MIME, JSON.stringify(item));
    e.dataTransfer.effectAllowed = 'move';
  };

  return (
    <aside className="palette" data-testid="palette">
      <div className="palette-search">
        <input type="search" placeholder="Search nodes…" value={query} onChange={(e) => setQuery(e.target.value)} data-testid="palette-search" />
      </div>
      <div className="palette-scroll">
        {groups.core.length > 0 && (
          <div className="palette-group">
            <div className="palette-group-title">Core</div>
            {groups.core.map((c) => (
              <button key={c.type} className="palette-item" draggable onDragStart={drag({ type: c.type })} onClick={() => onAdd({ type: c.type })} data-testid={`palette-${c.type}`} title={c.description}>
                <NodeIcon type={c.type} color={c.color} size={30} />
                <span className="palette-text">
                  <span className="palette-name">{c.name}</span>
                  <span className="palette-desc">{c.description}</span>
                </span>
              </button>
            ))}
          </div>
        )}
        {groups.workers.map(([category, list]) => (
          <div className="palette-group" key={category}>
            <div className="palette-group-title">{category}</div>
            {list.map((def) => (
              <button
                key={def.id}
                className="palette-item"
                draggable
                onDragStart={drag({ type: 'worker', workerType: def.id })}
                onClick={() => onAdd({ type: 'worker', workerType: def.id })}
                data-testid={`palette-worker-${def.id}`}
                title={def.description}
              >
                <NodeIcon type="worker" category={def.category} color={categoryColor(def.category)} size={30} />
                <span className="palette-text">
                  <span className="palette-name">
                    {def.name}
                    {def.remote ? <RemoteTag status={def.remote} /> : def.type === 'async' && <span className="tag">async</span>}
                    <IntegrationMode integration={(def as WorkerDefinition & { integration?: Integration }).integration} id={def.id} />
                  </span>
                  <span className="palette-desc">{def.description}</span>
                </span>
              </button>
            ))}
          </div>
        ))}
        {loading && <div className="muted small pad">Loading workers…</div>}
        {!loading && !groups.core.length && !groups.workers.length && <div className="muted small pad">Nothing matches “{query}”.</div>}
      </div>
    </aside>
  );
}

/** "mock" until the integration's keys are set; then "real", with where the key comes from. */
function IntegrationMode({ integration, id }: { integration?: Integration; id: string }) {
  if (!integration || integration.mode === 'none') return null;
  const sources = [...new Set(integration.keys.map((k) => k.source))].join('+');
  return (
    <span
      className={`tag ${integration.mode === 'mock' ? 'tag-amber' : 'tag-green'}`}
      data-testid={`palette-mode-${id}`}
      data-mode={integration.mode}
      title={integration.keys.map((k) => `${k.name}: ${k.source}`).join(', ')}
    >
      {integration.mode === 'mock' ? 'mock' : `real · ${sources}`}
    </span>
  );
}

export const Palette = memo(PaletteView);
