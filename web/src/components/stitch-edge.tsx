/** An edge with a label chip for its mapping or switch case, red when validation points at it. */
import { memo } from 'react';
import { BaseEdge, EdgeLabelRenderer, getBezierPath, useReactFlow, type EdgeProps } from '@xyflow/react';
import { useCanvas } from '../canvas-context';
import type { FlowEdge } from '../lib/graph';
import { useOverlay } from '../lib/overlay-store';

function mappingSummary(data: FlowEdge['data']): string | undefined {
  const parts: string[] = [];
  if (typeof data?.case === 'string' && data.case) parts.push(`case ${data.case}`);
  const mapping = data?.mapping;
  if (mapping && Object.keys(mapping).length) {
    const entries = Object.entries(mapping);
    const [field, source] = entries[0];
    const first = `${field} ← ${typeof source === 'string' ? source : JSON.stringify(source.value)}`;
    parts.push(entries.length > 1 ? `${first} +${entries.length - 1}` : first);
  }
  return parts.join(' · ') || undefined;
}

function StitchEdgeView({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected, markerEnd }: EdgeProps<FlowEdge>) {
  const { overlays } = useCanvas();
  const { setEdges, setNodes } = useReactFlow();
  // The label sits on the edge's midpoint: clicking it selects the edge, as clicking the line does.
  const select = () => {
    setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)));
    setEdges((es) => es.map((e) => (e.selected === (e.id === id) ? e : { ...e, selected: e.id === id })));
  };
  const overlay = useOverlay(overlays, `edge:${id}`);
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  const label = mappingSummary(data);
  const issue = overlay?.issues?.[0];
  const className = `stitch-edge${selected ? ' selected' : ''}${issue ? ' has-issues' : ''}`;
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} className={className} interactionWidth={18} />
      {(label || issue) && (
        <EdgeLabelRenderer>
          <div
            className={`edge-label nodrag nopan${issue ? ' has-issues' : ''}`}
            onClick={select}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            title={issue?.message ?? label}
            data-testid={`edge-label-${id}`}
          >
            {issue ? `⚠ ${issue.message}` : label}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const edgeTypes = { stitch: memo(StitchEdgeView) };
