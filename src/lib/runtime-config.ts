/**
 * The configuration the running Stitch was started with. `getConfig()` rebuilds the whole
 * configuration from the environment on every call (tens of microseconds); code on the hot path
 * reads this one instead. Outside a started Stitch (a CLI command, a unit test) it is `getConfig()`.
 */
import { getConfig, type Config } from './config';

let started: Config | undefined;

/** Set by startStitch, cleared by its stop. */
export function setRuntimeConfig(config: Config | undefined): void {
  started = config;
}

export function runtimeConfig(): Config {
  return started ?? getConfig();
}
