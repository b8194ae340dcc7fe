/** Which nodes a run's output is built from (compile-time checks and settles both ask). */
import { perGraph } from './per-graph';

/** The ids the run's output is built from: its `end` nodes, else its terminal nodes. */
export const outputNodesOf = perGraph((graph): readonly string[] => {
  const ends = graph.order.filter((id) => graph.nodes[id].type === 'end');
  return ends.length ? ends : graph.terminalNodes;
});
