/**
 * The API key, kept for the browser session only (sessionStorage). A 401 from the server opens the
 * key prompt; requests waiting on `waitForKey` resume once a key is entered.
 */
const STORAGE_KEY = 'stitch.apiKey';

type Listener = () => void;
const listeners = new Set<Listener>();
let prompting = false;
let rejected = false;
let waiters: Array<() => void> = [];

export function getKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function authHeader(): Record<string, string> {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Called on a 401: show the prompt (saying the stored key was refused, if there was one) and wait. */
export function waitForKey(refused: boolean): Promise<void> {
  if (!prompting) {
    rejected = refused && getKey() !== null;
    prompting = true;
    listeners.forEach((l) => l());
  }
  return new Promise((resolve) => waiters.push(resolve));
}

export function submitKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key.trim());
  prompting = false;
  const resume = waiters;
  waiters = [];
  listeners.forEach((l) => l());
  resume.forEach((r) => r());
}

export function authState(): { prompting: boolean; rejected: boolean } {
  return prompting ? (rejected ? REJECTED : PROMPTING) : IDLE;
}
const IDLE = { prompting: false, rejected: false };
const PROMPTING = { prompting: true, rejected: false };
const REJECTED = { prompting: true, rejected: true };

export function subscribeAuth(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
