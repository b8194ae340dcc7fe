/**
 * `stitch worker new NAME [--async|--pseudo-async]`: the guide's checklist in one command. In the
 * project at `root` it creates the worker class, its test and its doc page, adds the definition to
 * WORKER_DEFINITIONS, the registration to src/lib/workers/index.ts and `NAME_API_KEY=` to
 * .env.example. It plans every change first and writes nothing if any target already exists.
 * Templates: src/cli/templates/*.tmpl (placeholders `{{Class}}`, `{{name}}`, `{{ENV}}`, …).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

export const WORKER_KINDS = ['sync', 'async', 'pseudo-async'] as const;
export type WorkerKind = (typeof WORKER_KINDS)[number];

export interface WorkerNames {
  /** The worker type, kebab-case: `demo-thing`. */
  name: string;
  /** `DemoThingWorker` */
  className: string;
  /** `Demo Thing` */
  title: string;
  /** The title without a trailing " Worker", for "<subject> worker initialized in MOCK MODE". */
  subject: string;
  /** `DEMO_THING_API_KEY` */
  envKey: string;
  /** `demoThingApiKey`, as `getConfig().workers` camel-cases the variable. */
  configKey: string;
}

export interface ScaffoldResult {
  names: WorkerNames;
  kind: WorkerKind;
  /** Paths relative to the project root. */
  created: string[];
  modified: string[];
}

const TEMPLATES = fileURLToPath(new URL('../templates/', import.meta.url));
const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export const scaffoldPaths = (name: string) => ({
  worker: `src/lib/workers/${name}.ts`,
  test: `src/lib/workers/__tests__/${name}.test.ts`,
  doc: `docs/workers/${name}.md`,
  registry: 'src/lib/workers/registry.ts',
  index: 'src/lib/workers/index.ts',
  envExample: '.env.example',
});

/** Choices beside the name: how the worker is called in the canvas, and its key's variable. */
export interface ScaffoldOptions {
  /** Display name (default: the name in title case, "demo-thing" → "Demo Thing"). */
  title?: string;
  /** The key's environment variable (default `<NAME>_API_KEY`); must end in `_API_KEY`. */
  keyEnv?: string;
}

export function workerNames(name: string, options: ScaffoldOptions = {}): WorkerNames {
  if (!NAME.test(name)) {
    throw new Error(`Worker name "${name}" must be kebab-case: lower-case letters and digits, words joined by "-" (e.g. "demo-thing").`);
  }
  const words = name.split('-');
  const cap = (w: string) => w[0].toUpperCase() + w.slice(1);
  if (options.keyEnv !== undefined && !/^[A-Z][A-Z0-9_]*_API_KEY$/.test(options.keyEnv)) {
    throw new Error(`--key-env "${options.keyEnv}" must be an upper-case variable ending in _API_KEY (e.g. DEEPL_API_KEY), so that getConfig().workers carries it.`);
  }
  if (options.title !== undefined && (options.title.trim() === '' || /[\r\n'"`{}\\$]/.test(options.title) || options.title.length > 80)) {
    throw new Error(`--title "${options.title}" must be one line of at most 80 characters without quotes or braces.`);
  }
  const envKey = options.keyEnv ?? `${name.toUpperCase().replace(/-/g, '_')}_API_KEY`;
  const title = options.title?.trim() ?? words.map(cap).join(' ');
  return {
    name,
    // my-worker → MyWorker, demo-thing → DemoThingWorker
    className: `${words.map(cap).join('')}${words[words.length - 1] === 'worker' ? '' : 'Worker'}`,
    title,
    subject: title.replace(/ Worker$/, ''),
    envKey,
    // The rule of getConfig() (src/lib/config.ts) for *_API_KEY variables.
    configKey: envKey.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
  };
}

const KIND_VALUES: Record<WorkerKind, Record<string, string>> = {
  sync: {
    type: 'sync',
    kindLabel: 'Synchronous (completes inside `execute`)',
    outputField: 'result',
    outputDescription: 'What the vendor returned for the text',
    configExtra: '',
    configDocExtra: '',
    definitionExtra: '',
    deadlineDoc: '',
    mockDoc: 'outputs `result: "mock result for: <text>"` without calling the vendor.',
  },
  async: {
    type: 'async',
    kindLabel: 'Asynchronous (the vendor calls back; `parseCallback` translates its payload; `poll()` after the deadline)',
    outputField: 'result',
    outputDescription: 'What the vendor reported in its callback',
    configExtra: '\n      mockDelaySeconds: 1,',
    configDocExtra: '\n| `mockDelaySeconds` | `1` | Mock mode: seconds until the scheduled mock callback |',
    definitionExtra: '\n    timeoutSeconds: 600,',
    deadlineDoc: '\nCallback deadline: 600 s (definition `timeoutSeconds`, node `data.timeoutSeconds`); then `poll()` asks the vendor.',
    mockDoc: 'stores its input and a scheduled queue job completes the node with `result: "mock result for: <text>"` after `mockDelaySeconds`.',
  },
  'pseudo-async': {
    type: 'sync',
    kindLabel: 'Pseudo-asynchronous (several awaits — vendor call, download, storage — then the callback)',
    outputField: 'fileUrl',
    outputDescription: 'URL of the stored file (Stitch storage: local files or S3)',
    configExtra: '',
    configDocExtra: '',
    definitionExtra: '',
    deadlineDoc: '',
    mockDoc: 'stores a small text file and outputs its `fileUrl`.',
  },
};

function render(template: string, values: Record<string, string>): string {
  const text = readFileSync(path.join(TEMPLATES, template), 'utf8');
  return text.replace(/\{\{(\w+)\}\}/g, (match, key: string) => {
    if (!(key in values)) throw new Error(`Template ${template} uses unknown placeholder ${match}`);
    return values[key];
  });
}

/** Index of the `}` closing the `{` at `open`, skipping strings, template literals and comments. */
function matchingBrace(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') i = source.indexOf('\n', i);
    else if (c === '/' && source[i + 1] === '*') i = source.indexOf('*/', i + 2) + 1 || -1;
    else if (c === "'" || c === '"' || c === '`') {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === '\\') i++;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
    if (i < 0) break;
  }
  throw new Error('unbalanced braces');
}

/** registry.ts with `entry` added as the last member of WORKER_DEFINITIONS. */
export function addDefinition(registry: string, name: string, entry: string): string {
  const decl = /export const WORKER_DEFINITIONS\b[^=]*=\s*\{/.exec(registry);
  if (!decl) throw new Error('src/lib/workers/registry.ts has no `export const WORKER_DEFINITIONS … = {`: add the definition by hand.');
  const open = decl.index + decl[0].length - 1;
  const close = matchingBrace(registry, open);
  const body = registry.slice(open, close);
  if (new RegExp(`^\\s*(['"]?)${name}\\1\\s*:`, 'm').test(body)) {
    throw new Error(`WORKER_DEFINITIONS already has "${name}" (src/lib/workers/registry.ts).`);
  }
  const before = registry.slice(0, close).trimEnd();
  const comma = before.endsWith('{') || before.endsWith(',') ? '' : ',';
  return `${before}${comma}\n${entry.trimEnd()}\n${registry.slice(close)}`;
}

/** index.ts with the import, the export and the registration added after the last of each. */
export function addRegistration(index: string, names: WorkerNames): string {
  if (index.includes(`register('${names.name}'`) || index.includes(`register("${names.name}"`)) {
    throw new Error(`src/lib/workers/index.ts already registers "${names.name}".`);
  }
  const lines = index.split('\n');
  const insertAfterLast = (pattern: RegExp, line: string) => {
    let at = -1;
    lines.forEach((l, i) => {
      if (pattern.test(l)) at = i;
    });
    if (at === -1) lines.push(line);
    else lines.splice(at + 1, 0, line);
  };
  insertAfterLast(/^import .* from '\.\/[^']+';$/, `import { ${names.className} } from './${names.name}';`);
  insertAfterLast(/^export \{[^}]*\} from '\.\/[^']+';$/, `export { ${names.className} } from './${names.name}';`);
  insertAfterLast(/^workerRegistry\.register\(/, `workerRegistry.register('${names.name}', ${names.className});`);
  return lines.join('\n');
}

export function addEnvLine(envExample: string | undefined, names: WorkerNames): string | undefined {
  const text = envExample ?? '';
  if (new RegExp(`^${names.envKey}=`, 'm').test(text)) return undefined;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}# ${names.title} worker (${names.name}); unset = mock mode.\n${names.envKey}=\n`;
}

/** The command that made (and would remake) the scaffold, flags included: the doc page names it. */
function scaffoldCommand(name: string, kind: WorkerKind, options: ScaffoldOptions): string {
  const flags = [kind === 'sync' ? '' : ` --${kind}`, options.title ? ` --title "${options.title}"` : '', options.keyEnv ? ` --key-env ${options.keyEnv}` : ''];
  return `stitch worker new ${name}${flags.join('')}`;
}

/** The generated texts: worker, test and doc files, and the WORKER_DEFINITIONS entry. */
export function renderWorkerFiles(name: string, kind: WorkerKind = 'sync', options: ScaffoldOptions = {}) {
  const names = workerNames(name, options);
  const values = {
    name,
    command: scaffoldCommand(name, kind, options),
    // The WORKER_DEFINITIONS key: quoted only when it must be ('my-worker', but weather).
    defKey: /^[a-z][a-z0-9]*$/.test(name) ? name : `'${name}'`,
    Class: names.className,
    Title: names.title,
    Subject: names.subject,
    ENV: names.envKey,
    key: names.configKey,
    ...KIND_VALUES[kind],
  };
  return {
    names,
    worker: render(`worker-${kind}.ts.tmpl`, values),
    test: render(`test-${kind}.ts.tmpl`, values),
    doc: render('doc.md.tmpl', values),
    definition: render('definition.ts.tmpl', values),
  };
}

/** Create everything a new worker needs in the project at `root`; refuses to overwrite anything. */
export function scaffoldWorker(root: string, name: string, kind: WorkerKind = 'sync', options: ScaffoldOptions = {}): ScaffoldResult {
  const files = renderWorkerFiles(name, kind, options);
  const { names } = files;
  const paths = scaffoldPaths(name);
  const abs = (p: string) => path.join(root, p);
  const existing = [paths.worker, paths.test, paths.doc].filter((p) => existsSync(abs(p)));
  if (existing.length) {
    throw new Error(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}: stitch worker new never overwrites. Pick another name.`);
  }
  // Plan every change before writing any, so a refusal leaves the project untouched.
  const envExample = existsSync(abs(paths.envExample)) ? readFileSync(abs(paths.envExample), 'utf8') : undefined;
  const writes: Array<[string, string]> = [
    [paths.worker, files.worker],
    [paths.test, files.test],
    [paths.doc, files.doc],
    [paths.registry, addDefinition(readFileSync(abs(paths.registry), 'utf8'), name, files.definition)],
    [paths.index, addRegistration(readFileSync(abs(paths.index), 'utf8'), names)],
  ];
  const env = addEnvLine(envExample, names);
  if (env !== undefined) writes.push([paths.envExample, env]);
  for (const [file, text] of writes) {
    mkdirSync(path.dirname(abs(file)), { recursive: true });
    writeFileSync(abs(file), text);
  }
  return {
    names,
    kind,
    created: [paths.worker, paths.test, paths.doc],
    modified: writes.map(([file]) => file).filter((f) => f === paths.registry || f === paths.index || f === paths.envExample),
  };
}

/** Adds `new` under the existing `worker` command (which starts a queue runner), or creates `worker`. */
export function registerWorkerNewCommand(program: Command): void {
  const worker = program.commands.find((c) => c.name() === 'worker') ?? program.command('worker').description('Worker commands');
  worker
    .command('new')
    .argument('<name>', 'worker type, kebab-case (e.g. demo-thing)')
    .description('Scaffold a worker: class, definition, registration, .env.example key, test and doc page')
    .option('--async', 'the vendor calls back later (callback URL, parseCallback, poll)')
    .option('--pseudo-async', 'several awaits (vendor call, download, storage) before the callback')
    .option('--title <text>', 'display name in the canvas and docs (default: the name in title case)')
    .option('--key-env <VAR>', "the vendor key's variable (default <NAME>_API_KEY; e.g. DEEPL_API_KEY)")
    .action((name: string, options: { async?: boolean; pseudoAsync?: boolean; title?: string; keyEnv?: string }) => {
      if (options.async && options.pseudoAsync) throw new Error('choose one of --async and --pseudo-async');
      const kind: WorkerKind = options.async ? 'async' : options.pseudoAsync ? 'pseudo-async' : 'sync';
      const result = scaffoldWorker(process.cwd(), name, kind, { title: options.title, keyEnv: options.keyEnv });
      console.log(`Created the ${kind} worker "${name}" (${result.names.className}):`);
      for (const f of result.created) console.log(`  + ${f}`);
      for (const f of result.modified) console.log(`  ~ ${f}`);
      const next = [
        [`npx vitest run ${scaffoldPaths(name).test}`, 'passes as generated (mock and fake-vendor tests)'],
        ['npm run stitch -- doctor', `${result.names.envKey} unset = mock mode`],
      ];
      const width = Math.max(...next.map(([command]) => command.length));
      console.log('Next:');
      for (const [command, why] of next) console.log(`  ${command.padEnd(width)}  # ${why}`);
      console.log('  Then replace the TODOs and the example vendor call: docs/guides/adding-workers.md, Steps 2–9.');
    });
}
