/**
 * `stitch credentials set|list|rm`: the vault from the command line. `set NAME` reads the value
 * from standard input — typed at a terminal without echo, or piped (`… | stitch credentials set
 * NAME`) — never from an argument, which shell history and `ps` would keep.
 */
import type { Command } from 'commander';
import { ValidationError } from '@/lib/errors';
import { checkCredentialName, deleteCredential, listCredentials, setCredential, type CredentialSummary } from '@/lib/vault/credentials';
import { allPages } from '@/lib/db/queries/keyset-cursor';
import { api, withDatabase } from './inspect';

/** Ctrl-C and Ctrl-D at the prompt. */
const INTERRUPT = '\u0003';
const END_OF_INPUT = '\u0004';
const BACKSPACE = /[\u0008\u007f]/;

/** The value from a terminal, keys not echoed. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === END_OF_INPUT) return done();
        if (ch === INTERRUPT) return done(new Error('cancelled; nothing was stored'));
        if (BACKSPACE.test(ch)) value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The value from a pipe: everything, less one trailing newline (`echo`'s). */
async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function print(list: CredentialSummary[]): void {
  if (list.length === 0) console.log('No credentials stored.');
  for (const c of list) console.log(`${c.name}  updated ${c.updatedAt}  used by ${c.usedBy.length ? c.usedBy.join(', ') : '-'}`);
}

export function registerCredentialCommands(program: Command): void {
  const credentials = program.command('credentials').description('The credentials vault: API keys stored encrypted in the database');

  credentials
    .command('set')
    .argument('<name>', 'the variable it stands for, e.g. ANTHROPIC_API_KEY')
    .description('Store or replace a value, read from standard input (not echoed at a terminal)')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (name: string, options: { url?: string }) => {
      checkCredentialName(name);
      const value = process.stdin.isTTY ? await readHidden(`Value for ${name} (not shown): `) : await readPiped();
      if (!value) throw new ValidationError('No value given: nothing was stored.');
      const saved = options.url
        ? await api(options.url).request<CredentialSummary>('PUT', `/api/credentials/${encodeURIComponent(name)}`, { value })
        : await withDatabase(async () => (await setCredential(name, value)).credential);
      console.log(`Stored ${saved.name}${saved.usedBy.length ? ` (used by ${saved.usedBy.join(', ')})` : ''}; it applies to the next node execution.`);
    });

  credentials
    .command('list')
    .description('List stored credentials (names, never values)')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (options: { url?: string }) => {
      print(
        options.url
          ? await api(options.url).listAll<CredentialSummary>('/api/credentials', 'credentials')
          : await withDatabase(() =>
              allPages(async (page) => {
                const { credentials: items, nextCursor } = await listCredentials(page);
                return { items, nextCursor };
              }),
            ),
      );
    });

  credentials
    .command('rm')
    .argument('<name>')
    .description('Delete a stored credential')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (name: string, options: { url?: string }) => {
      if (options.url) await api(options.url).request('DELETE', `/api/credentials/${encodeURIComponent(name)}`);
      else await withDatabase(() => deleteCredential(name));
      console.log(`Deleted ${name}.`);
    });
}
