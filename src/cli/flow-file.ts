/**
 * Flow files (`examples/*.json`): `{name, graph, input}`, or a bare React Flow graph
 * (`{nodes, edges}`, named after the file).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface FlowFile {
  name: string;
  graph: unknown;
  input: unknown;
}

export function readFlowFile(file: string): FlowFile {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`Cannot read flow file ${file}: ${(error as Error).message}`);
  }
  const graph = parsed.graph ?? { nodes: parsed.nodes, edges: parsed.edges };
  const name = typeof parsed.name === 'string' && parsed.name ? parsed.name : path.basename(file, '.json');
  return { name, graph, input: parsed.input };
}

/** `--input '{"a":1}'` or `--input @file.json`. */
export function parseInputOption(value: string): unknown {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--input is not valid JSON: ${(error as Error).message}`);
  }
}
