/** The shell: header, routes, API key prompt, toasts. */
import { AuthPrompt } from './components/auth-prompt';
import { ErrorBoundary } from './components/error-boundary';
import { ToastProvider } from './components/toast';
import { lazy, Suspense, useRef } from 'react';
import { prefetchForRoute } from './lib/prefetch';
import { FlowsListPage } from './pages/flows-list';
import { RunsListPage } from './pages/runs-list';
import { SettingsPage } from './pages/settings';
import { ExperimentsPage } from './pages/experiments';
import { ExperimentPage } from './pages/experiment-view';
import { href, parseRoute, useHash } from './router';

// The canvas pages carry React Flow; the lists load without it.
const EditorPage = lazy(() => import('./pages/editor').then((m) => ({ default: m.EditorPage })));
const RunPage = lazy(() => import('./pages/run-view').then((m) => ({ default: m.RunPage })));

export function App() {
  const hash = useHash();
  const route = parseRoute(hash);
  // On each navigation, before the page (and its lazy chunk) mounts: start its requests.
  const prefetched = useRef<string | null>(null);
  if (prefetched.current !== hash) {
    prefetched.current = hash;
    prefetchForRoute(route);
  }
  return (
    <ToastProvider>
      <div className="app">
        <header className="app-header">
          <a className="brand" href={href.flows()}>
            <svg width="22" height="22" viewBox="0 0 32 32" aria-hidden>
              <rect width="32" height="32" rx="8" fill="#4f46e5" />
              <path d="M9 11h9a4 4 0 0 1 0 8h-4a4 4 0 0 0 0 8h9" stroke="#fff" strokeWidth="3" fill="none" strokeLinecap="round" />
            </svg>
            Stitch
          </a>
          <nav>
            <a href={href.flows()} className={route.page === 'flows' ? 'active' : ''}>
              Flows
            </a>
            <a href={href.runs(null)} className={route.page === 'runs' && !route.flowId ? 'active' : ''} data-testid="nav-runs">
              Runs
            </a>
            <a href={href.settings()} className={route.page === 'settings' ? 'active' : ''} data-testid="nav-settings">
              Settings
            </a>
            <a href="/api/docs" target="_blank" rel="noreferrer">
              API
            </a>
          </nav>
        </header>
        <main className="app-main">
          {/* The last line: a page that fails shows why under the header, which keeps working. */}
          <ErrorBoundary what="This page" resetKey={hash}>
            <Suspense fallback={<div className="muted pad">Loading…</div>}>
              {route.page === 'flows' && <FlowsListPage />}
              {route.page === 'editor' && <EditorPage flowId={route.flowId} versionId={route.versionId} initialName={route.name} />}
              {route.page === 'runs' && <RunsListPage key={route.flowId ?? 'all'} flowId={route.flowId} query={route.query} />}
              {route.page === 'run' && <RunPage runId={route.runId} />}
              {route.page === 'experiments' && <ExperimentsPage key={route.flowId} flowId={route.flowId} datasetId={route.datasetId} />}
              {route.page === 'experiment' && <ExperimentPage key={route.experimentId} experimentId={route.experimentId} />}
              {route.page === 'settings' && <SettingsPage />}
            </Suspense>
          </ErrorBoundary>
        </main>
        <AuthPrompt />
      </div>
    </ToastProvider>
  );
}
