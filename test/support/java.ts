// A small Java program of the repo (infra/<name>/src/<Main>.java) as a test's foreign client: its
// jars fetched from Maven Central once by infra/<name>/pom.xml into the state dir (as `services up`
// caches Kafka's), the program compiled once per version of its source. A run then costs a JVM start.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../config/index.ts';
import { run } from '../../scripts/services/commands.ts';
import { ensureMavenJars } from '../../scripts/services/maven.ts';

export interface JavaProgram {
  /** The folder under infra/ with its pom.xml and src/<main>.java. */
  project: string;
  main: string;
  /** Names the jars in messages, and their cache directory: "ClickHouse JDBC 0.10.0". */
  what: string;
}

function classpath({ project, main, what }: JavaProgram): string {
  const dir = resolve(import.meta.dirname, '../../infra', project);
  const source = join(dir, 'src', `${main}.java`);
  const root = resolve(loadConfig().stateDir, project);
  const lib = join(root, `lib-${what.replace(/\W+/g, '-')}`);
  ensureMavenJars(join(dir, 'pom.xml'), lib, what, () => {});
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const classes = join(root, `classes-${hash}`);
  if (!existsSync(classes)) {
    const building = `${classes}.${process.pid}.tmp`;
    mkdirSync(building, { recursive: true });
    try {
      run('javac', ['-d', building, '-cp', `${lib}/*`, source], `could not compile ${main}.java`);
      renameSync(building, classes);
    } catch (error) {
      rmSync(building, { recursive: true, force: true });
      // Another test process compiled the same source meanwhile.
      if (!existsSync(classes)) throw error;
    }
  }
  return `${lib}/*:${classes}`;
}

/** Runs the program with `args` and returns the JSON value of the last line it printed. */
export async function runJava<T>(program: JavaProgram, args: readonly string[]): Promise<T> {
  const { stdout } = await promisify(execFile)('java', ['-cp', classpath(program), program.main, ...args], {
    maxBuffer: 16 << 20,
    timeout: 180_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}
