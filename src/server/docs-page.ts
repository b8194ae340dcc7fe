/**
 * A human-readable page for the OpenAPI document, rendered on the server from the same document
 * (no CDN, no script): each route with its parameters, request body and responses.
 */
type Json = Record<string, unknown>;

const escape = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);

/** Inline `$ref`s to component schemas (one level of names is enough to read a body's shape). */
function resolveRefs(schema: unknown, components: Json, depth = 0): unknown {
  if (depth > 6 || !schema || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(s, components, depth + 1));
  const ref = (schema as Json).$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop() as string;
    return resolveRefs(components[name], components, depth + 1);
  }
  return Object.fromEntries(Object.entries(schema as Json).map(([k, v]) => [k, resolveRefs(v, components, depth + 1)]));
}

function schemaBlock(schema: unknown, components: Json): string {
  return `<pre>${escape(JSON.stringify(resolveRefs(schema, components), null, 2))}</pre>`;
}

export function renderDocsPage(doc: Json): string {
  const components = ((doc.components as Json | undefined)?.schemas ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  const sections: string[] = [];
  for (const [p, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters as Json[] | undefined) ?? [];
      const body = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as Json | undefined;
      const responses = Object.entries((op.responses ?? {}) as Record<string, Json>);
      sections.push(`<section>
<h3><span class="m ${escape(method)}">${escape(method.toUpperCase())}</span> <code>${escape(p)}</code></h3>
<p>${escape(op.summary)}</p>${op.description ? `<p class="d">${escape(op.description)}</p>` : ''}
${params.length ? `<h4>Parameters</h4><ul>${params.map((x) => `<li><code>${escape(x.name)}</code> (${escape(x.in)}${x.required ? ', required' : ''}) ${escape((x.schema as Json | undefined)?.description ?? x.description ?? '')}</li>`).join('')}</ul>` : ''}
${body ? `<h4>Body</h4>${schemaBlock(body.schema, components)}` : ''}
<h4>Responses</h4><ul>${responses.map(([code, r]) => `<li><b>${escape(code)}</b> ${escape(r.description)}</li>`).join('')}</ul>
</section>`);
    }
  }
  const info = (doc.info ?? {}) as Json;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(info.title)} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}section{border-top:1px solid #ddd;padding:.5rem 0}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:20rem}.m{font:bold 12px monospace;padding:2px 6px;border-radius:3px;color:#fff;background:#555}
.get{background:#2f7d32}.post{background:#1565c0}.put{background:#ef6c00}.delete{background:#c62828}.d{color:#555}</style></head><body>
<h1>${escape(info.title)} HTTP API <small>${escape(info.version)}</small></h1>
<p>${escape(info.description)}</p>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a>. Errors are always <code>{"error":{"code","message","details?"}}</code>.</p>
${sections.join('\n')}
</body></html>`;
}
