import { open, readdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves a fully written temporary file to its final name in the same directory. Syncing the file
 * first and the directory after means that once this resolves, a crash or power loss leaves the whole
 * file under its final name, and before, at most a temporary file that readers ignore.
 */
export async function commitFile(temporary: string, target: string): Promise<void> {
  await fsyncPath(temporary);
  await rename(temporary, target);
  await fsyncPath(dirname(target));
}

/** Names in `dir`; none when it does not exist yet (nothing has been written). */
export async function listNames(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}
