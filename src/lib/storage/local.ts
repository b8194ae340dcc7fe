/**
 * Local-filesystem storage: `<dataDir>/files/<key>`, served by the HTTP server at
 * `${baseUrl}/files/<key>`. Writes go to a temporary file renamed into place, so a reader never
 * sees half a file and a crash leaves no partial object under the key.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Config } from '@/lib/config';
import { NotFoundError } from '@/lib/errors';
import { alreadyStored, checkKey, toReadable, type PutOptions, type Storage, type StorageBody } from './types';

export function makeLocalStorage(config: Pick<Config, 'dataDir' | 'baseUrl'>): Storage {
  const root = path.join(config.dataDir, 'files');
  const fileOf = (key: string) => path.join(root, ...checkKey(key).split('/'));
  const url = (key: string) => `${config.baseUrl}/files/${checkKey(key).split('/').map(encodeURIComponent).join('/')}`;

  return {
    driver: 'local',
    url,
    async put(key: string, body: StorageBody, _contentType: string, options: PutOptions = {}): Promise<string> {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
      try {
        await pipeline(toReadable(body), createWriteStream(tmp));
        if (options.ifAbsent) {
          // link() fails when the name exists: of two racing writers exactly one succeeds.
          await link(tmp, file).catch((error: NodeJS.ErrnoException) => {
            throw error.code === 'EEXIST' ? alreadyStored(key) : error;
          });
          await rm(tmp, { force: true });
        } else {
          await rename(tmp, file);
        }
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
      return url(key);
    },
    async get(key: string): Promise<Readable> {
      const file = fileOf(key);
      if (!(await stat(file).catch(() => undefined))?.isFile()) throw new NotFoundError(`Stored file ${key}`);
      return createReadStream(file);
    },
    async exists(key: string): Promise<boolean> {
      return Boolean((await stat(fileOf(key)).catch(() => undefined))?.isFile());
    },
    async remove(key: string): Promise<void> {
      await rm(fileOf(key), { force: true });
    },
  };
}
