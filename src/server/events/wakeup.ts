/**
 * The sleep of a streaming loop (SSE): a NOTIFY cuts it short, and so does the end of the stream
 * (the client left, the hub stopped), after which `closed` is set.
 */
export class Wakeup {
  closed = false;
  #wake: (() => void) | undefined;

  readonly notify = (): void => {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  };

  readonly close = (): void => {
    this.closed = true;
    this.notify();
  };

  /** Resolves true when notified (or closed), false after `ms`. */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
