import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type Duck, openDuck, sqlString } from '../duckdb/index.ts';

const spillDirectory = async (duck: Duck) =>
  String(
    (
      await duck.connection.runAndReadAll(`SELECT current_setting('temp_directory') AS dir`)
    ).getRowObjects()[0]?.dir,
  );

describe('openDuck', () => {
  it('gives each instance a spill directory of its own under the temporary directory, made only once it spills', async () => {
    const ducks = [await openDuck(1), await openDuck()];
    const dirs = await Promise.all(ducks.map(spillDirectory));
    expect(new Set(dirs).size).toBe(2);
    for (const dir of dirs) {
      expect(dir.startsWith(`${tmpdir()}/tidewater-duckdb-`)).toBe(true);
      expect(existsSync(dir)).toBe(false);
    }
    for (const duck of ducks) duck.close();
  });

  it('lets two instances of one process spill at once, each to its own directory', async () => {
    // In DuckDB's shared default directory this crashed the process (SIGSEGV).
    const ducks = [await openDuck(1), await openDuck(1)];
    const dirs = await Promise.all(ducks.map(spillDirectory));
    try {
      const spilled = new Set<string>();
      const watch = setInterval(() => {
        for (const dir of dirs) if (existsSync(dir) && readdirSync(dir).length > 0) spilled.add(dir);
      }, 10);
      try {
        await Promise.all(
          ducks.map(async (duck) => {
            await duck.connection.run(`SET memory_limit = '64MB'`);
            await duck.connection.run(
              'CREATE TABLE sorted AS SELECT i, md5(CAST(i AS VARCHAR)) AS h FROM range(4000000) r(i) ORDER BY h',
            );
          }),
        );
      } finally {
        clearInterval(watch);
      }
      expect([...spilled].sort()).toEqual([...dirs].sort());
      for (const duck of ducks) {
        const [row] = (
          await duck.connection.runAndReadAll(
            'SELECT count(*) AS n, count(DISTINCT h) AS distinct_h FROM sorted',
          )
        ).getRowObjects();
        expect([Number(row?.n), Number(row?.distinct_h)]).toEqual([4_000_000, 4_000_000]);
      }
    } finally {
      for (const duck of ducks) duck.close();
    }
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    expect(existsSync('.tmp')).toBe(false);
  });

  it('has the next process that opens DuckDB remove what one killed while spilling left, and nothing else', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'duckdb-sweep-'));
    const opener = new URL('../duckdb/index.ts', import.meta.url).href;
    const inProcess = (script: string) =>
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `const { openDuck } = await import('${opener}');\n${script}`,
        ],
        { env: { ...process.env, TMPDIR: scratch }, stdio: ['ignore', 'ignore', 'inherit'] },
      );
    try {
      // Spills until it is killed, as the lake writer would past its memory limit.
      const spiller = inProcess(`const duck = await openDuck(1);
        await duck.connection.run("SET memory_limit = '64MB'");
        await duck.connection.run('CREATE TABLE sorted AS SELECT md5(CAST(i AS VARCHAR)) AS h FROM range(20000000) r(i) ORDER BY h');`);
      const killed = `tidewater-duckdb-${spiller.pid}-`;
      const spilling = () =>
        readdirSync(scratch).find(
          (name) => name.startsWith(killed) && readdirSync(join(scratch, name)).length > 0,
        );
      for (let waited = 0; !spilling(); waited += 50) {
        if (waited > 30_000 || spiller.exitCode !== null) throw new Error('the child never spilled');
        await sleep(50);
      }
      spiller.kill('SIGKILL');
      await once(spiller, 'exit');
      expect(spilling()).toBeDefined();
      // A running process's (this one's) and a stranger's.
      const kept = [`tidewater-duckdb-${process.pid}-live`, 'tidewater-other'];
      for (const name of kept) {
        mkdirSync(join(scratch, name));
        writeFileSync(join(scratch, name, 'file'), 'x');
      }

      const next = inProcess('(await openDuck()).close();');
      expect((await once(next, 'exit'))[0]).toBe(0);
      // (tsx keeps its cache there too.)
      expect(
        readdirSync(scratch)
          .filter((name) => name.startsWith('tidewater-'))
          .sort(),
      ).toEqual(kept.sort());
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('keeps nothing of the files it reads once the query is done (no external file cache)', async () => {
    // With DuckDB's cache every file read stayed in memory until its memory limit: a lake writer
    // held more for every file it wrote, without bound.
    const dir = mkdtempSync(join(tmpdir(), 'duck-cache-'));
    const duck = await openDuck(1);
    try {
      const files = [0, 1, 2].map((i) => join(dir, `f${i}.parquet`));
      for (const file of files)
        await duck.connection.run(
          `COPY (SELECT i, md5(CAST(i AS VARCHAR)) AS h FROM range(200000) r(i)) TO ${sqlString(file)} (FORMAT parquet)`,
        );
      for (const file of files) {
        const [read] = (
          await duck.connection.runAndReadAll(
            `SELECT count(DISTINCT h) AS n FROM read_parquet(${sqlString(file)})`,
          )
        ).getRowObjects();
        expect(Number(read?.n)).toBe(200_000);
        await duck.connection.run(`SELECT * FROM parquet_metadata(${sqlString(file)})`);
      }
      const [cached] = (
        await duck.connection.runAndReadAll(
          `SELECT coalesce(sum(memory_usage_bytes), 0) AS bytes FROM duckdb_memory() WHERE tag = 'EXTERNAL_FILE_CACHE'`,
        )
      ).getRowObjects();
      expect(Number(cached?.bytes)).toBe(0);
    } finally {
      duck.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
