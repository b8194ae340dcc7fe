/**
 * The flow editor: palette, React Flow canvas, side panel, save with validation feedback, version
 * history (old versions read-only), auto-layout and run. A version URL opens the same editor
 * read-only on that version's graph.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Background,
  BackgroundVariant,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  addEdge,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Connection,
  type FitViewOptions,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import type { EdgeMapping, ValidationIssue, VisualNodeData } from '@/types/stitch';
import { api, ApiError } from '../api';
import { CanvasContext } from '../canvas-context';
import { EdgePanel } from '../components/edge-panel';
import { edgeTypes } from '../components/stitch-edge';
import { IssuesList } from '../components/issues-list';
import { ErrorBoundary } from '../components/error-boundary';
import { NodePanel } from '../components/node-panel';
import { DRAG_MIME, Palette, type PaletteItem } from '../components/palette';
import { RunDialog } from '../components/run-dialog';
import { nodeTypes } from '../components/flow-node';
import { VersionsDrawer } from '../components/versions-drawer';
import { SchedulePanel } from '../components/schedule-panel';
import { AlertPanel } from '../components/alert-panel';
import { fromFlow, newNode, toFlow, uniqueNodeId, type FlowEdge, type FlowNode } from '../lib/graph';
import { layoutGraph } from '../lib/layout';
import { takeFlow } from '../lib/prefetch';
import { OverlayStore } from '../lib/overlay-store';
import { useWorkerDefs } from '../lib/use-workers';
import { href, navigate } from '../router';
import { useToast } from '../components/toast';
import type { FlowSummary } from '../types';

interface EditorProps {
  flowId: string | null;
  versionId?: string;
  initialName?: string;
}

/** A graph handed from a read-only version to the editor by "Restore as draft". */
let pendingDraft: { flowId: string; graph: ReturnType<typeof fromFlow> } | undefined;

export function EditorPage(props: EditorProps) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

const DIRTY_NODE_CHANGES = new Set(['position', 'remove', 'add', 'replace']);
// Stable props: React Flow re-renders less when its props keep their identity.
const DELETE_KEYS = ['Backspace', 'Delete'];
const EDGE_OPTIONS = { type: 'stitch' };
const notSelfLoop = (c: { source: string; target: string }) => c.source !== c.target;

function Editor({ flowId, versionId, initialName }: EditorProps) {
  const readOnly = !!versionId;
  const defs = useWorkerDefs();
  const toast = useToast();
  const overlays = useMemo(() => new OverlayStore(), []);
  const { screenToFlowPosition, fitView, getNodes, deleteElements } = useReactFlow<FlowNode, FlowEdge>();
  const [nodes, setNodes, onNodesChangeBase] = useNodesState<FlowNode>([]);
  const [edges, setEdges, onEdgesChangeBase] = useEdgesState<FlowEdge>([]);
  const [flow, setFlow] = useState<FlowSummary>();
  const [versionNumber, setVersionNumber] = useState<number>();
  const [name, setName] = useState(initialName ?? 'Untitled flow');
  const [loadError, setLoadError] = useState<string>();
  const [loaded, setLoaded] = useState(flowId === null);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [issues, setIssues] = useState<ValidationIssue[]>([]);
  const [showIssues, setShowIssues] = useState(true);
  const [side, setSide] = useState<'selection' | 'versions' | 'schedules' | 'alerts'>('selection');
  const [runOpen, setRunOpen] = useState(false);
  const [savedAt, setSavedAt] = useState(0);
  const showSelection = useCallback(() => setSide('selection'), []);
  const createdHere = useRef<string | null>(null);
  const fitPending = useRef<FitViewOptions<FlowNode> | undefined>(undefined);
  const wrapper = useRef<HTMLDivElement>(null);

  // Load the flow (or one of its versions).
  useEffect(() => {
    if (!flowId) {
      setFlow(undefined);
      setNodes([]);
      setEdges([]);
      setIssues([]);
      setDirty(false);
      setVersionNumber(undefined);
      setLoaded(true);
      return;
    }
    if (createdHere.current === flowId) {
      createdHere.current = null; // we just created it: the canvas already holds it
      return;
    }
    let live = true;
    setLoaded(false);
    setLoadError(undefined);
    (async () => {
      const summary = versionId ? await api.getFlow(flowId) : await takeFlow(flowId);
      const version = versionId ? await api.getVersion(flowId, versionId) : undefined;
      if (!live) return;
      setFlow(summary);
      setName(summary.name);
      setVersionNumber(version ? version.version : (summary.version ?? undefined));
      const draft = !versionId && pendingDraft?.flowId === flowId ? pendingDraft.graph : undefined;
      pendingDraft = undefined;
      const graph = toFlow(version ? version.visualGraph : (draft ?? summary.graph));
      setNodes(graph.nodes);
      setEdges(graph.edges);
      performance.mark('stitch:editor-graph'); // bench/canvas.ts reads it: render time starts here
      setDirty(!!draft);
      setIssues([]);
      setLoaded(true);
      fitPending.current = { padding: 0.2, maxZoom: 1.1 };
    })().catch((e: Error) => live && setLoadError(e.message));
    return () => {
      live = false;
    };
  }, [flowId, versionId, setNodes, setEdges]);

  // Validation issues onto nodes and edges.
  useEffect(() => {
    const byTarget: Record<string, ValidationIssue[]> = {};
    for (const issue of issues) {
      const key = issue.nodeId ?? (issue.edgeId ? `edge:${issue.edgeId}` : undefined);
      if (key) (byTarget[key] ??= []).push(issue);
    }
    overlays.setFacet('issues', byTarget);
  }, [issues, overlays]);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      const editable = readOnly ? changes.filter((c) => c.type === 'select' || c.type === 'dimensions') : changes;
      if (editable.some((c) => DIRTY_NODE_CHANGES.has(c.type))) setDirty(true);
      onNodesChangeBase(editable);
    },
    [onNodesChangeBase, readOnly],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<FlowEdge>[]) => {
      const editable = readOnly ? changes.filter((c) => c.type === 'select') : changes;
      if (editable.some((c) => c.type !== 'select')) setDirty(true);
      onEdgesChangeBase(editable);
    },
    [onEdgesChangeBase, readOnly],
  );
  const onConnect = useCallback(
    (c: Connection) => {
      setEdges((eds) => {
        const taken = new Set(eds.map((e) => e.id));
        const id = uniqueNodeId(`e_${c.source}_${c.target}`, taken);
        return addEdge({ ...c, id, type: 'stitch', data: {} }, eds);
      });
      setDirty(true);
    },
    [setEdges],
  );

  const addNode = useCallback(
    (item: PaletteItem, at?: { x: number; y: number }) => {
      const def = item.workerType ? defs.byId[item.workerType] : undefined;
      let position = at;
      if (!position) {
        const rect = wrapper.current?.getBoundingClientRect();
        const centre = rect ? { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 } : { x: 400, y: 300 };
        const p = screenToFlowPosition(centre);
        const offset = (getNodes().length % 6) * 24;
        position = { x: p.x - 110 + offset, y: p.y - 38 + offset };
      }
      setNodes((ns) => {
        const node = newNode(item.type, def, position!, new Set(ns.map((n) => n.id)));
        return [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), { ...node, selected: true }];
      });
      setSide('selection');
      setDirty(true);
    },
    [defs.byId, screenToFlowPosition, setNodes, getNodes],
  );

  const onDrop = useCallback(
    (e: React.DragEvent) => {
      const raw = e.dataTransfer.getData(DRAG_MIME);
      if (!raw) return;
      e.preventDefault();
      const p = screenToFlowPosition({ x: e.clientX, y: e.clientY });
      addNode(JSON.parse(raw) as PaletteItem, { x: p.x - 110, y: p.y - 30 });
    },
    [addNode, screenToFlowPosition],
  );

  const autoLayout = useCallback(() => {
    const positions = layoutGraph(
      getNodes().map((n) => ({ id: n.id, width: n.measured?.width, height: n.measured?.height })),
      edges,
    );
    setNodes((ns) => ns.map((n) => (positions[n.id] ? { ...n, position: positions[n.id] } : n)));
    setDirty(true);
    fitPending.current = { padding: 0.2, maxZoom: 1.1, duration: 250 };
  }, [edges, getNodes, setNodes]);

  // Fit the view once React Flow holds the nodes just set (its store syncs in a child effect,
  // which runs before this one).
  useEffect(() => {
    const options = fitPending.current;
    if (!options || !nodes.length) return;
    fitPending.current = undefined;
    void fitView(options);
  }, [nodes, fitView]);

  const save = useCallback(async (): Promise<string | null> => {
    if (readOnly) return flowId;
    setSaving(true);
    const graph = fromFlow(nodes, edges);
    try {
      let id = flowId;
      let saved: { version?: number; unchanged?: boolean };
      if (id) {
        saved = await api.updateFlow(id, graph, flow && name !== flow.name ? name : undefined);
        setFlow((f) => (f ? { ...f, name } : f));
      } else {
        const created = await api.createFlow(name, graph);
        id = created.id;
        createdHere.current = id;
        saved = { version: 1 };
        setFlow({ id, name, currentVersionId: created.versionId, version: 1, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), lastRun: null });
        navigate(href.flow(id), { replace: true });
      }
      if (saved.version) setVersionNumber(saved.version);
      setIssues([]);
      setDirty(false);
      setSavedAt(Date.now());
      toast.show(saved.unchanged ? `No changes: still version ${saved.version}` : saved.version ? `Saved version ${saved.version}` : 'Saved', 'success');
      return id;
    } catch (e) {
      if (e instanceof ApiError && e.details.length) {
        setIssues(e.details);
        setShowIssues(true);
        toast.show(`Not saved: ${e.details.length} problem${e.details.length === 1 ? '' : 's'}`, 'error');
      } else {
        toast.show((e as Error).message, 'error');
      }
      return null;
    } finally {
      setSaving(false);
    }
  }, [readOnly, flowId, nodes, edges, flow, name, toast]);

  // Leaving the page with unsaved changes asks first.
  useEffect(() => {
    if (!dirty || readOnly) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty, readOnly]);

  // Ctrl/Cmd+S saves.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        void save();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [save]);

  const selectedNode = nodes.find((n) => n.selected);
  const selectedEdge = selectedNode ? undefined : edges.find((e) => e.selected);
  // What the node panel sees changes with the node's data, not with its position while dragging.
  const selectedId = selectedNode?.id;
  const selectedType = selectedNode?.type;
  const selectedData = selectedNode?.data;
  const panelNode = useMemo(() => (selectedId && selectedType && selectedData ? { id: selectedId, type: selectedType, data: selectedData } : undefined), [selectedId, selectedType, selectedData]);
  const panelIncoming = useMemo(() => edges.filter((e) => e.target === selectedId), [edges, selectedId]);
  const panelIssues = useMemo(() => issues.filter((i) => i.nodeId === selectedId), [issues, selectedId]);
  const startNode = nodes.find((n) => n.type === 'start');

  const patchNode = useCallback(
    (id: string, patch: Partial<VisualNodeData>) => {
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: stripUndefined({ ...n.data, ...patch }) } : n)));
      setDirty(true);
    },
    [setNodes],
  );
  const patchEdge = useCallback(
    (id: string, data: FlowEdge['data']) => {
      setEdges((es) => es.map((e) => (e.id === id ? { ...e, data: stripUndefined({ ...data }) } : e)));
      setDirty(true);
    },
    [setEdges],
  );
  const patchSelected = useCallback((patch: Partial<VisualNodeData>) => selectedId && patchNode(selectedId, patch), [selectedId, patchNode]);
  const deleteSelected = useCallback(() => selectedId && void deleteElements({ nodes: [{ id: selectedId }] }), [selectedId, deleteElements]);
  const setEdgeMapping = useCallback(
    (id: string, mapping: EdgeMapping | undefined) => {
      setEdges((es) => es.map((e) => (e.id === id ? { ...e, data: stripUndefined({ ...e.data, mapping }) } : e)));
      setDirty(true);
    },
    [setEdges],
  );

  const pickIssue = useCallback(
    (issue: ValidationIssue) => {
      if (issue.nodeId) {
        setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === issue.nodeId })));
        setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
        fitView({ nodes: [{ id: issue.nodeId }], padding: 1.2, maxZoom: 1.2, duration: 250 });
      } else if (issue.edgeId) {
        setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)));
        setEdges((es) => es.map((e) => ({ ...e, selected: e.id === issue.edgeId })));
      }
      setSide('selection');
    },
    [setNodes, setEdges, fitView],
  );

  const startRun = useCallback(
    async (input: unknown) => {
      const id = dirty || !flowId ? await save() : flowId;
      if (!id) {
        setRunOpen(false);
        return;
      }
      const started = await api.startRun(id, input);
      navigate(href.run(started.runId));
    },
    [dirty, flowId, save],
  );

  const canvasContext = useMemo(() => ({ defs: defs.byId, overlays }), [defs.byId, overlays]);

  if (loadError) return <div className="page-error">Could not open this flow: {loadError}</div>;

  return (
    <CanvasContext.Provider value={canvasContext}>
      <div className="editor">
        <div className="toolbar">
          <a className="btn btn-ghost btn-sm" href={href.flows()}>
            ← Flows
          </a>
          <input className="flow-name" value={name} onChange={(e) => (setName(e.target.value), setDirty(true))} disabled={readOnly} aria-label="Flow name" data-testid="flow-name" />
          {versionNumber !== undefined && <span className="tag">v{versionNumber}</span>}
          {dirty && !readOnly && (
            <span className="unsaved" data-testid="unsaved">
              ● unsaved
            </span>
          )}
          <div className="toolbar-spacer" />
          {!readOnly && (
            <button className="btn btn-sm" onClick={autoLayout} title="Arrange nodes left to right" data-testid="auto-layout">
              ⇶ Auto-layout
            </button>
          )}
          {flowId && (
            <>
              <button className={`btn btn-sm${side === 'versions' ? ' active' : ''}`} onClick={() => setSide(side === 'versions' ? 'selection' : 'versions')} data-testid="open-versions">
                ⟲ History
              </button>
              <button className={`btn btn-sm${side === 'schedules' ? ' active' : ''}`} onClick={() => setSide(side === 'schedules' ? 'selection' : 'schedules')} data-testid="open-schedules">
                ◷ Schedules
              </button>
              <button className={`btn btn-sm${side === 'alerts' ? ' active' : ''}`} onClick={() => setSide(side === 'alerts' ? 'selection' : 'alerts')} data-testid="open-alerts">
                ⚑ Alerts
              </button>
              <a className="btn btn-sm" href={href.runs(flowId)} data-testid="open-runs">
                ☰ Runs
              </a>
            </>
          )}
          {!readOnly && (
            <>
              <button className="btn btn-sm" onClick={() => void save()} disabled={saving} data-testid="save">
                {saving ? 'Saving…' : 'Save'}
              </button>
              <button className="btn btn-primary btn-sm" onClick={() => setRunOpen(true)} disabled={!nodes.length} data-testid="run">
                ▶ Run
              </button>
            </>
          )}
        </div>
        {readOnly && flowId && (
          <div className="banner" data-testid="readonly-banner">
            Viewing version {versionNumber ?? ''} — read-only.
            <a href={href.flow(flowId)}>Back to the current version</a>
            <button
              className="btn btn-sm"
              onClick={() => {
                pendingDraft = { flowId, graph: fromFlow(nodes, edges) };
                navigate(href.flow(flowId));
              }}
            >
              Restore as draft
            </button>
          </div>
        )}
        <div className="editor-body">
          {!readOnly && <Palette defs={defs.list} onAdd={addNode} loading={defs.loading} />}
          <div className="canvas" ref={wrapper} onDrop={onDrop} onDragOver={(e) => (e.preventDefault(), (e.dataTransfer.dropEffect = 'move'))} data-testid="canvas">
            <ReactFlow<FlowNode, FlowEdge>
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              edgeTypes={edgeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={readOnly ? undefined : onConnect}
              isValidConnection={notSelfLoop}
              nodesDraggable={!readOnly}
              nodesConnectable={!readOnly}
              deleteKeyCode={readOnly ? null : DELETE_KEYS}
              defaultEdgeOptions={EDGE_OPTIONS}
              onNodeClick={showSelection}
              onEdgeClick={showSelection}
              onlyRenderVisibleElements={nodes.length > 120}
              minZoom={0.1}
              proOptions={{ hideAttribution: true }}
              defaultViewport={{ x: 40, y: 40, zoom: 1 }}
            >
              <Background variant={BackgroundVariant.Dots} gap={18} size={1.2} color="#cbd5e1" />
              <Controls showInteractive={false} />
            </ReactFlow>
            {loaded && nodes.length === 0 && !readOnly && (
              <div className="empty-canvas">
                <div className="empty-title">Start building</div>
                <div className="muted">Drag a Start node, a worker and an End node from the palette, then connect their handles.</div>
              </div>
            )}
            {showIssues && <IssuesList issues={issues} onPick={pickIssue} onClose={() => setShowIssues(false)} />}
          </div>
          {(side !== 'selection' && flowId) || selectedNode || selectedEdge ? (
            <aside className="side-panel">
              <ErrorBoundary what={panelNode ? 'This node’s settings' : 'This panel'} resetKey={panelNode?.id ?? selectedEdge?.id ?? side}>
                {side === 'schedules' && flowId ? (
                  <SchedulePanel flowId={flowId} onClose={() => setSide('selection')} />
                ) : side === 'alerts' && flowId ? (
                  <AlertPanel flowId={flowId} onClose={() => setSide('selection')} />
                ) : side === 'versions' && flowId ? (
                  <VersionsDrawer flowId={flowId} currentVersionId={flow?.currentVersionId ?? null} viewingVersionId={versionId} refreshKey={savedAt} onClose={() => setSide('selection')} />
                ) : panelNode ? (
                  <NodePanel
                    key={panelNode.id}
                    node={panelNode}
                    defs={defs.byId}
                    incoming={panelIncoming}
                    issues={panelIssues}
                    readOnly={readOnly}
                    onData={patchSelected}
                    onEdgeMapping={setEdgeMapping}
                    onDelete={deleteSelected}
                  />
                ) : selectedEdge ? (
                  <EdgePanel
                    key={selectedEdge.id}
                    edge={selectedEdge}
                    source={nodes.find((n) => n.id === selectedEdge.source)}
                    target={nodes.find((n) => n.id === selectedEdge.target)}
                    defs={defs.byId}
                    issues={issues.filter((i) => i.edgeId === selectedEdge.id)}
                    readOnly={readOnly}
                    onData={(data) => patchEdge(selectedEdge.id, data)}
                    onDelete={() => void deleteElements({ edges: [{ id: selectedEdge.id }] })}
                  />
                ) : null}
              </ErrorBoundary>
            </aside>
          ) : null}
        </div>
        {runOpen && <RunDialog flowId={flowId} inputSchema={startNode?.data.inputSchema} onRun={startRun} onClose={() => setRunOpen(false)} />}
      </div>
    </CanvasContext.Provider>
  );
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
