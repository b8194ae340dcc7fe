/**
 * One contract suite for every storage backend (like Hono's router `common.case.test.ts`):
 * `runStorageContract({ name, make, fetchUrl })` checks put/get/exists/url the same way for each.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Storage } from '../types';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export interface StorageContractOptions {
  name: string;
  make: () => Promise<Storage>;
  /** Fetch a URL `put` returned, as a client would (the backend's server must be running). */
  fetchUrl: (url: string) => Promise<Response>;
}

export function runStorageContract({ name, make, fetchUrl }: StorageContractOptions): void {
  describe(`storage contract: ${name}`, () => {
    it('stores bytes and strings and serves them back at the returned URL', async () => {
      const storage = await make();
      const url = await storage.put('contract/hello.txt', 'hello world', 'text/plain');
      expect(url).toBe(storage.url('contract/hello.txt'));
      expect((await readAll(await storage.get('contract/hello.txt'))).toString()).toBe('hello world');
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      await storage.put('contract/bytes.bin', bytes, 'application/octet-stream');
      expect([...(await readAll(await storage.get('contract/bytes.bin')))]).toEqual([...bytes]);
      const response = await fetchUrl(url);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('hello world');
    });

    it('streams a Node stream and a web stream in', async () => {
      const storage = await make();
      const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
      await storage.put('contract/node-stream.bin', Readable.from(parts), 'application/octet-stream');
      expect(await readAll(await storage.get('contract/node-stream.bin'))).toEqual(Buffer.concat(parts));
      const web = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('web '));
          controller.enqueue(new TextEncoder().encode('stream'));
          controller.close();
        },
      });
      await storage.put('contract/web.txt', web, 'text/plain');
      expect((await readAll(await storage.get('contract/web.txt'))).toString()).toBe('web stream');
    });

    it('overwrites a key and reports existence', async () => {
      const storage = await make();
      expect(await storage.exists('contract/over.txt')).toBe(false);
      await storage.put('contract/over.txt', 'one', 'text/plain');
      await storage.put('contract/over.txt', 'two', 'text/plain');
      expect(await storage.exists('contract/over.txt')).toBe(true);
      expect((await readAll(await storage.get('contract/over.txt'))).toString()).toBe('two');
    });

    it('refuses unsafe keys and reports a missing key as not found', async () => {
      const storage = await make();
      for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/../b', '', 'spa ce', '.hidden']) {
        await expect(storage.put(key, 'x', 'text/plain')).rejects.toMatchObject({ code: 'validation_failed' });
      }
      await expect(storage.get('contract/missing.txt')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('a failing source stream leaves nothing under the key', async () => {
      const storage = await make();
      const failing = new Readable({
        read() {
          this.destroy(new Error('source broke'));
        },
      });
      await expect(storage.put('contract/broken.bin', failing, 'application/octet-stream')).rejects.toThrow(/source broke/);
      expect(await storage.exists('contract/broken.bin')).toBe(false);
    });
  });
}
