// Java classpaths from Maven Central, gathered once by a small pom of the repo (infra/*/pom.xml)
// into a directory under the state dir; a marker file says the copy completed.
import fs from 'node:fs';
import path from 'node:path';
import { hasCommand, run } from './commands.ts';

/**
 * Copies the runtime dependencies of `pom` into `lib` unless an earlier call completed there.
 * `what` names them in messages ("the Kafka 3.9.1 jars"); `otherwise` says what else the user can do
 * without Maven.
 */
export function ensureMavenJars(
  pom: string,
  lib: string,
  what: string,
  log: (line: string) => void,
  otherwise = '',
): void {
  const marker = path.join(lib, '.complete');
  if (fs.existsSync(marker)) return;
  if (!hasCommand('mvn')) {
    throw new Error(
      `Maven (mvn) is needed once to fetch ${what} from Maven Central. Install it (apt-get install maven)${otherwise}.`,
    );
  }
  log(`fetching ${what} from Maven Central into ${lib} (first time only)...`);
  run(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      pom,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${lib}`,
      '-DincludeScope=runtime',
    ],
    `could not fetch ${what}; check that Maven reaches Maven Central`,
  );
  fs.writeFileSync(marker, `${path.basename(pom)}\n`);
}
