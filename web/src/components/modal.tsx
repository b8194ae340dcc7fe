/** A plain modal dialog: backdrop, title, body, Escape to close. */
import { useEffect, type ReactNode } from 'react';

/** Without `onClose` the dialog cannot be dismissed (it waits for its own action). */
export function Modal({ title, onClose, children, wide, testId }: { title: string; onClose?: () => void; children: ReactNode; wide?: boolean; testId?: string }) {
  useEffect(() => {
    if (!onClose) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose?.()}>
      <div className={`modal${wide ? ' modal-wide' : ''}`} role="dialog" aria-label={title} data-testid={testId}>
        <div className="modal-head">
          <h3>{title}</h3>
          {onClose && (
            <button className="icon-btn" onClick={onClose} title="Close">
              ×
            </button>
          )}
        </div>
        {children}
      </div>
    </div>
  );
}
