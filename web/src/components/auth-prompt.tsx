/** The API key prompt, shown when the server answers 401; the key lives in sessionStorage. */
import { useState, useSyncExternalStore } from 'react';
import { authState, submitKey, subscribeAuth } from '../auth';
import { Modal } from './modal';

export function AuthPrompt() {
  const state = useSyncExternalStore(subscribeAuth, authState);
  const [key, setKey] = useState('');
  if (!state.prompting) return null;
  return (
    <Modal title="API key required" testId="auth-prompt">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (key.trim()) submitKey(key);
          setKey('');
        }}
      >
        <p className="muted">
          This Stitch server is protected by <code>STITCH_API_KEY</code>. Enter the key; it is kept for this browser session only.
        </p>
        {state.rejected && <div className="alert alert-error">The key was refused. Check it and try again.</div>}
        <input type="password" autoFocus autoComplete="off" placeholder="API key" value={key} onChange={(e) => setKey(e.target.value)} data-testid="api-key" />
        <div className="modal-actions">
          <button className="btn btn-primary" type="submit" disabled={!key.trim()} data-testid="api-key-submit">
            Continue
          </button>
        </div>
      </form>
    </Modal>
  );
}
