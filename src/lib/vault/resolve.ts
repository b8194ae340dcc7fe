/**
 * The one resolver for secrets: the environment (.env files included) first, then the vault. Its
 * one caller in config.ts makes every `getConfig().workers.<x>ApiKey` — built-in workers and those
 * written from the guide alike — find a vault value under the variable's name, unchanged.
 */
import { vaultNames, vaultValue } from './values';

export type SecretSource = 'env' | 'vault' | 'none';

/** Where the value of variable `name` comes from, given the environment's lookup. */
export function secretSource(name: string, fromEnv: (name: string) => string | undefined): SecretSource {
  if (fromEnv(name) !== undefined) return 'env';
  return vaultValue(name) !== undefined ? 'vault' : 'none';
}

/**
 * `workers` (built from the environment) with each vault value added under its camel-cased name
 * where the environment has no value for that variable.
 */
export function withVaultSecrets<T extends Record<string, string | undefined>>(
  workers: T,
  fromEnv: (name: string) => string | undefined,
  camelCase: (name: string) => string,
): T {
  for (const name of vaultNames()) {
    const key = camelCase(name) as keyof T;
    if (secretSource(name, fromEnv) === 'vault' && workers[key] === undefined) workers[key] = vaultValue(name) as T[keyof T];
  }
  return workers;
}
