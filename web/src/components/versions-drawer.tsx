/**
 * Version history of a flow: every save is an immutable version; old ones open read-only. A version
 * made by `stitch deploy` says so, with the deploy's message (the commit's, typically).
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { timeAgo } from '../lib/format';
import { href, navigate } from '../router';
import type { FlowVersionSummary } from '../types';

interface VersionsDrawerProps {
  flowId: string;
  currentVersionId: string | null;
  viewingVersionId?: string;
  /** Bumped after each save so the list refreshes. */
  refreshKey: unknown;
  onClose(): void;
}

export function VersionsDrawer({ flowId, currentVersionId, viewingVersionId, refreshKey, onClose }: VersionsDrawerProps) {
  const [versions, setVersions] = useState<FlowVersionSummary[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    api.listVersions(flowId).then(
      (v) => live && setVersions(v),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [flowId, refreshKey]);
  return (
    <div className="panel-body" data-testid="versions">
      <div className="panel-title-row">
        <div className="panel-heading">Version history</div>
        <button className="icon-btn" onClick={onClose} title="Close">
          ×
        </button>
      </div>
      {error && <div className="alert alert-error">{error}</div>}
      {!versions && !error && <div className="muted small">Loading…</div>}
      <ul className="version-list">
        {versions?.map((v) => {
          const current = v.id === currentVersionId;
          const viewing = viewingVersionId ? v.id === viewingVersionId : current;
          return (
            <li key={v.id}>
              <button
                className={`version${viewing ? ' active' : ''}`}
                data-testid={`version-${v.version}`}
                onClick={() => navigate(current ? href.flow(flowId) : href.version(flowId, v.id))}
              >
                <span className="version-num">v{v.version}</span>
                <span className="muted small">{timeAgo(v.createdAt)}</span>
                {current && <span className="tag tag-green">current</span>}
                {v.deployed && (
                  <span className="tag" data-testid={`deployed-${v.version}`} title="Made by stitch deploy from flow files">
                    deployed
                  </span>
                )}
              </button>
              {v.deployed && v.message && (
                <div className="muted small version-message" data-testid={`version-message-${v.version}`}>
                  {v.message}
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
