/**
 * Keeps a rendering failure inside the part of the canvas where it happened: that part shows what
 * went wrong, in place, and everything around it keeps working. Without one, React unmounts the
 * whole app on an error and leaves a blank page. A new `resetKey` (another node, another page)
 * starts afresh, as does "Try again".
 */
import { Component, type ReactNode } from 'react';

interface ErrorBoundaryProps {
  /** What failed, for the message: "This node's settings", "The run dialog". */
  what: string;
  resetKey?: unknown;
  children: ReactNode;
}

interface ErrorBoundaryState {
  error?: Error;
  resetKey?: unknown;
}

export class ErrorBoundary extends Component<ErrorBoundaryProps, ErrorBoundaryState> {
  state: ErrorBoundaryState = { resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<ErrorBoundaryState> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  static getDerivedStateFromProps(props: ErrorBoundaryProps, state: ErrorBoundaryState): Partial<ErrorBoundaryState> | null {
    return Object.is(props.resetKey, state.resetKey) ? null : { error: undefined, resetKey: props.resetKey };
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="alert alert-error panel-error" role="alert" data-testid="panel-error">
        <div className="alert-row">
          <strong>{this.props.what} could not be shown.</strong>
          <button className="btn btn-sm" onClick={() => this.setState({ error: undefined })}>
            Try again
          </button>
        </div>
        <div className="mono small">{error.message}</div>
      </div>
    );
  }
}
