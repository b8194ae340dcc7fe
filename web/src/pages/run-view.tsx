/**
 * One run, live: the graph of the run's pinned version, node status pushed over SSE, the
 * inspector, the timeline, cancel. The snapshot (`GET /api/runs/:runId`) is read once; after that
 * the canvas changes only with events. Details (inputs, outputs) are re-read when an event touches
 * the node being inspected, or when the run settles.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Background, BackgroundVariant, Controls, ReactFlow, ReactFlowProvider } from '@xyflow/react';
import type { StitchEvent } from '@/types/stitch';
import { api } from '../api';
import { CanvasContext } from '../canvas-context';
import { edgeTypes } from '../components/stitch-edge';
import { nodeTypes } from '../components/flow-node';
import { ErrorBoundary } from '../components/error-boundary';
import { Inspector } from '../components/inspector';
import { JsonView } from '../components/json-view';
import { MediaPreview } from '../components/media-preview';
import { StatusBadge } from '../components/status-badge';
import { Timeline } from '../components/timeline';
import { RerunDialog } from '../components/rerun-dialog';
import { useToast } from '../components/toast';
import { duration, shortId, usd } from '../lib/format';
import { toFlow, type FlowEdge, type FlowNode } from '../lib/graph';
import { hasOverlaps, layoutGraph } from '../lib/layout';
import { OverlayStore } from '../lib/overlay-store';
import { applyEvents, applyStream, fromSnapshot, nodeIdOf, summariseNodes, type NodeRuntime, type RunView } from '../lib/run-state';
import { followEvents } from '../lib/sse';
import { useWorkerDefs } from '../lib/use-workers';
import { href } from '../router';
import type { RunDetail } from '../types';
import type { NodeProvenance } from '../lib/overlay-store';
import { RunTags } from '../components/run-tags';

export function RunPage({ runId }: { runId: string }) {
  return (
    <ReactFlowProvider>
      <RunViewPage key={runId} runId={runId} />
    </ReactFlowProvider>
  );
}

const FIT = { padding: 0.25, maxZoom: 1.1 };
const FINAL_RUN = new Set(['completed', 'failed', 'cancelled']);

function RunViewPage({ runId }: { runId: string }) {
  const defs = useWorkerDefs();
  const toast = useToast();
  const overlays = useMemo(() => new OverlayStore(), []);
  const [detail, setDetail] = useState<RunDetail>();
  const [view, setView] = useState<RunView>();
  const [graph, setGraph] = useState<{ nodes: FlowNode[]; edges: FlowEdge[] }>();
  const [flowName, setFlowName] = useState<string>();
  const [versionNumber, setVersionNumber] = useState<number>();
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState<string>();
  const [connection, setConnection] = useState<'connecting' | 'open' | 'retrying'>('connecting');
  const [cancelling, setCancelling] = useState(false);
  /** The re-run dialog: `{}` for Run again, `{fromNode}` for Run from here. */
  const [rerunFrom, setRerunFrom] = useState<{ fromNode?: string }>();
  const selectedRef = useRef<string | undefined>(undefined);
  selectedRef.current = selected;
  const summaryRef = useRef<Record<string, NodeRuntime>>({});
  const refetchTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const refetch = useCallback(() => {
    clearTimeout(refetchTimer.current);
    refetchTimer.current = setTimeout(() => {
      api.getRun(runId).then(setDetail, () => {});
    }, 120);
  }, [runId]);
  useEffect(() => () => clearTimeout(refetchTimer.current), []);

  // Snapshot, pinned version, then the event stream.
  useEffect(() => {
    let stop: (() => void) | undefined;
    let live = true;
    (async () => {
      const snapshot = await api.getRun(runId);
      if (!live) return;
      setDetail(snapshot);
      setView(fromSnapshot(snapshot));
      stop = followEvents(`/api/runs/${encodeURIComponent(runId)}/events`, {
        onEvents: (events: StitchEvent[]) => {
          setView((v) => (v ? applyEvents(v, events) : v));
          const sel = selectedRef.current;
          if (events.some((e) => e.type.startsWith('run:') && e.type !== 'run:created') || (sel && events.some((e) => e.instanceId && nodeIdOf(e.instanceId) === sel))) refetch();
        },
        onStream: (messages) => setView((v) => (v ? applyStream(v, messages) : v)),
        onConnection: setConnection,
      });
      if (snapshot.flowId) {
        const [version, summary] = await Promise.all([api.getVersion(snapshot.flowId, snapshot.versionId), api.getFlow(snapshot.flowId).catch(() => undefined)]);
        if (!live) return;
        const flow = toFlow(version.visualGraph);
        // Graphs drawn for smaller cards (or never laid out) are laid out for viewing; the version is untouched.
        if (hasOverlaps(flow.nodes)) {
          const positions = layoutGraph(flow.nodes, flow.edges);
          flow.nodes = flow.nodes.map((n) => ({ ...n, position: positions[n.id] ?? n.position }));
        }
        setGraph(flow);
        setVersionNumber(version.version);
        setFlowName(summary?.name);
      } else {
        // A run of a graph saved outside any flow (`stitch run file.json`): draw its nodes' instances.
        const ids = [...new Set(Object.values(snapshot.nodes ?? {}).map((n) => n.nodeId))];
        const flow = toFlow({ nodes: ids.map((id) => ({ id, type: 'worker', data: { label: id } })), edges: [] });
        const positions = layoutGraph(flow.nodes, []);
        flow.nodes = flow.nodes.map((n) => ({ ...n, position: positions[n.id] ?? n.position }));
        setGraph(flow);
      }
    })().catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
      stop?.();
    };
  }, [runId, refetch]);

  // Where each node's output came from and what it cost, from the latest snapshot.
  useEffect(() => {
    if (detail) overlays.setFacet('provenance', provenanceOf(detail));
  }, [detail, overlays]);

  // Run state onto the canvas.
  useEffect(() => {
    if (!view) return;
    summaryRef.current = summariseNodes(view, summaryRef.current);
    overlays.setFacet('runtime', summaryRef.current);
  }, [view, overlays]);

  useEffect(() => {
    if (selected) refetch();
  }, [selected, refetch]);

  const nodes = useMemo(() => graph?.nodes.map((n) => (n.id === selected ? { ...n, selected: true } : n)), [graph, selected]);
  const canvasContext = useMemo(() => ({ defs: defs.byId, overlays }), [defs.byId, overlays]);

  const pauseOrResume = async (paused: boolean) => {
    setCancelling(true);
    try {
      await (paused ? api.resumeRun(runId) : api.pauseRun(runId));
      toast.show(paused ? 'Run resumed' : 'Run paused: no new node starts; running ones finish', 'info');
    } catch (e) {
      toast.show((e as Error).message, 'error');
    } finally {
      setCancelling(false);
    }
  };

  const cancel = async () => {
    setCancelling(true);
    try {
      await api.cancelRun(runId);
      toast.show('Run cancelled', 'info');
    } catch (e) {
      toast.show((e as Error).message, 'error');
    } finally {
      setCancelling(false);
    }
  };

  if (error) return <div className="page-error">Could not open run {runId}: {error}</div>;
  const status = view?.status ?? detail?.status;
  const finished = status ? FINAL_RUN.has(status) : false;
  const selectedNode = graph?.nodes.find((n) => n.id === selected);

  return (
    <CanvasContext.Provider value={canvasContext}>
      <div className="editor run-view">
        <div className="toolbar">
          <div className="crumbs">
            <a href={href.flows()}>Flows</a>
            {detail?.flowId && (
              <>
                {' / '}
                <a href={href.flow(detail.flowId)}>{flowName ?? '…'}</a>
                {' / '}
                <a href={href.runs(detail.flowId)}>Runs</a>
              </>
            )}
            {' / '}
            <span className="mono">{shortId(runId)}</span>
          </div>
          {detail?.rerunOf && (
            <a className="tag" href={href.run(detail.rerunOf)} title={`A re-run of run ${detail.rerunOf}`} data-testid="rerun-of-link">
              ↻ re-run of {shortId(detail.rerunOf)}
            </a>
          )}
          {detail?.cost && (detail.cost.usd > 0 || detail.cost.savedUsd > 0) && (
            <span className="tag" data-testid="run-cost" title={detail.cost.mock ? 'Estimate: mock workers, priced as the real calls would be' : 'What the vendors billed for this run'}>
              {detail.cost.mock ? `≈${usd(detail.cost.usd)} est.` : usd(detail.cost.usd)}
              {detail.cost.savedUsd > 0 && <span data-testid="run-saved"> · saved {usd(detail.cost.savedUsd)}</span>}
            </span>
          )}
          {detail?.parentRunId && (
            <a className="tag" href={href.run(detail.parentRunId)} title={`This run is the sub-flow of node ${detail.parentInstanceId} in run ${detail.parentRunId}`} data-testid="parent-run-link">
              ↖ parent run ({detail.parentInstanceId})
            </a>
          )}
          <StatusBadge status={status} testId="run-status" />
          <RunTags tags={detail?.tags} priority={detail?.priority} />
          {versionNumber !== undefined && detail?.flowId && (
            <a className="tag" href={href.version(detail.flowId, detail.versionId)} title="The version this run is pinned to">
              v{versionNumber}
            </a>
          )}
          <RunClock start={detail?.startedAt ?? view?.createdAt} end={view?.finishedAt} active={!finished} />
          {connection === 'retrying' && !finished && <span className="muted small">reconnecting…</span>}
          <div className="toolbar-spacer" />
          {!finished && status && (
            <button className="btn btn-sm" onClick={() => void pauseOrResume(status === 'paused')} disabled={cancelling} data-testid={status === 'paused' ? 'resume-run' : 'pause-run'}>
              {status === 'paused' ? '▶ Resume' : '❚❚ Pause'}
            </button>
          )}
          {!finished && status && (
            <button className="btn btn-sm btn-danger-ghost" onClick={() => void cancel()} disabled={cancelling} data-testid="cancel-run">
              ■ Cancel run
            </button>
          )}
          {finished && detail?.flowId && (
            <button className="btn btn-sm" onClick={() => setRerunFrom({})} data-testid="run-again">
              ↻ Run again
            </button>
          )}
          {detail?.flowId && (
            <a className="btn btn-sm" href={href.flow(detail.flowId)}>
              Edit flow
            </a>
          )}
        </div>
        <div className="run-body">
          <div className="editor-body">
            <div className="canvas" data-testid="canvas">
              <ReactFlow<FlowNode, FlowEdge>
                nodes={nodes ?? []}
                edges={graph?.edges ?? []}
                nodeTypes={nodeTypes}
                edgeTypes={edgeTypes}
                nodesDraggable={false}
                nodesConnectable={false}
                elementsSelectable={false}
                deleteKeyCode={null}
                onNodeClick={(_, n) => setSelected(n.id)}
                onPaneClick={() => setSelected(undefined)}
                onlyRenderVisibleElements={(graph?.nodes.length ?? 0) > 120}
                minZoom={0.1}
                proOptions={{ hideAttribution: true }}
                fitView
                fitViewOptions={FIT}
              >
                <Background variant={BackgroundVariant.Dots} gap={18} size={1.2} color="#cbd5e1" />
                <Controls showInteractive={false} />
              </ReactFlow>
            </div>
            <aside className="side-panel">
              <ErrorBoundary what={selected ? 'This node’s details' : 'The run summary'} resetKey={selected}>
                {selected && view ? (
                  <Inspector
                    key={selected}
                    runId={runId}
                    nodeId={selected}
                    node={selectedNode}
                    defs={defs.byId}
                    view={view}
                    detail={detail}
                    onClose={() => setSelected(undefined)}
                    onRunFromHere={finished && detail ? () => setRerunFrom({ fromNode: selected }) : undefined}
                  />
                ) : (
                  <RunSummary detail={detail} view={view} />
                )}
              </ErrorBoundary>
            </aside>
          </div>
          {view && <Timeline view={view} onPick={setSelected} />}
        </div>
        {rerunFrom && detail && <RerunDialog run={detail} fromNode={rerunFrom.fromNode} onClose={() => setRerunFrom(undefined)} />}
      </div>
    </CanvasContext.Provider>
  );
}

function RunClock({ start, end, active }: { start?: string | null; end?: string | null; active: boolean }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [active]);
  return <span className="muted small" data-testid="run-duration">{duration(start, end)}</span>;
}

function RunSummary({ detail, view }: { detail?: RunDetail; view?: RunView }) {
  if (!detail) return <div className="panel-body muted">Loading…</div>;
  const error = view?.error ?? detail.error;
  return (
    <div className="panel-body" data-testid="run-summary">
      <div className="panel-heading">Run</div>
      <div className="muted small mono">{detail.id}</div>
      <p className="muted small">Click a node to inspect its input, output, attempts and timings.</p>
      {error && <div className="alert alert-error">{error}</div>}
      <h4>Input</h4>
      <JsonView value={detail.input} testId="run-input-view" empty="no input" />
      <h4>Output</h4>
      <MediaPreview value={detail.output} />
      <JsonView value={detail.output} testId="run-output" empty={view && FINAL_RUN.has(view.status) ? 'no output' : 'not finished yet'} />
    </div>
  );
}

/** Per node: where its settled instances' outputs came from (all reused, all cached, or mixed) and their cost. */
function provenanceOf(detail: RunDetail): Record<string, NodeProvenance> {
  const out = Object.create(null) as Record<string, NodeProvenance>; // node ids may be `__proto__`
  for (const state of Object.values(detail.nodes ?? {})) {
    const entry = (out[state.nodeId] ??= { origin: null, costUsd: 0 });
    entry.costUsd += state.costUsd ?? 0;
    if (!state.origin) continue;
    entry.origin = entry.origin === null || entry.origin === state.origin ? state.origin : 'mixed';
    if (state.reusedFrom && !entry.fromRunId) entry.fromRunId = state.reusedFrom.runId;
  }
  return out;
}
