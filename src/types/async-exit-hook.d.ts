// async-exit-hook ships no types; Stitch uses only this (src/cli/shutdown.ts).
declare module 'async-exit-hook' {
  const exitHook: { hookedEvents(): string[]; unhookEvent(event: string): void };
  export default exitHook;
}
