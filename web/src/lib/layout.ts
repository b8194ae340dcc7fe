/**
 * Auto-layout for DAGs, left to right: layers by longest path from the entry nodes, order inside a
 * layer by the barycentre of neighbours (a few down/up sweeps, the Sugiyama heuristic). About 70
 * lines instead of a layout library: flows are DAGs and small enough (hundreds of nodes).
 */
interface LayoutNode {
  id: string;
  width?: number;
  height?: number;
}

const GAP_X = 96;
const GAP_Y = 36;
const DEFAULT_W = 210;
const DEFAULT_H = 76;

export function layoutGraph(nodes: LayoutNode[], edges: Array<{ source: string; target: string }>): Record<string, { x: number; y: number }> {
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const succ = new Map<string, string[]>(ids.map((id) => [id, []]));
  const pred = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!known.has(e.source) || !known.has(e.target) || e.source === e.target) continue;
    succ.get(e.source)!.push(e.target);
    pred.get(e.target)!.push(e.source);
  }
  // Longest-path layering (Kahn order); nodes on a cycle keep layer 0 plus what reached them.
  const layer = new Map<string, number>(ids.map((id) => [id, 0]));
  const indeg = new Map(ids.map((id) => [id, pred.get(id)!.length]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const t of succ.get(id)!) {
      layer.set(t, Math.max(layer.get(t)!, layer.get(id)! + 1));
      indeg.set(t, indeg.get(t)! - 1);
      if (indeg.get(t) === 0) queue.push(t);
    }
  }
  const layers: string[][] = [];
  for (const id of ids) (layers[layer.get(id)!] ??= []).push(id);
  const rank = new Map<string, number>();
  const setRanks = () => layers.forEach((l) => l?.forEach((id, i) => rank.set(id, i)));
  setRanks();
  const bary = (id: string, neighbours: Map<string, string[]>) => {
    const ns = neighbours.get(id)!;
    return ns.length ? ns.reduce((s, n) => s + rank.get(n)!, 0) / ns.length : rank.get(id)!;
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? layers : [...layers].reverse();
    for (const l of order) {
      if (!l) continue;
      const keys = new Map(l.map((id) => [id, bary(id, down ? pred : succ)]));
      l.sort((a, b) => keys.get(a)! - keys.get(b)!);
      l.forEach((id, i) => rank.set(id, i));
    }
  }
  const size = new Map(nodes.map((n) => [n.id, { w: n.width ?? DEFAULT_W, h: n.height ?? DEFAULT_H }]));
  const positions: Record<string, { x: number; y: number }> = {};
  let x = 0;
  const heights = layers.map((l) => (l ?? []).reduce((s, id) => s + size.get(id)!.h + GAP_Y, -GAP_Y));
  const tallest = Math.max(0, ...heights);
  layers.forEach((l, i) => {
    if (!l) return;
    let y = (tallest - heights[i]) / 2;
    const width = Math.max(...l.map((id) => size.get(id)!.w));
    for (const id of l) {
      positions[id] = { x, y: Math.round(y) };
      y += size.get(id)!.h + GAP_Y;
    }
    x += width + GAP_X;
  });
  return positions;
}

/** True when two node cards (at their default size) would cover or touch each other. */
export function hasOverlaps(nodes: Array<{ position: { x: number; y: number } }>): boolean {
  const sorted = [...nodes].sort((a, b) => a.position.x - b.position.x);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].position.x - sorted[i].position.x < DEFAULT_W + 30; j++) {
      if (Math.abs(sorted[j].position.y - sorted[i].position.y) < DEFAULT_H - 16) return true;
    }
  }
  return false;
}
