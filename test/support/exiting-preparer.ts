// A preparer that ends its gate thread on the first range with accepted records: a stand-in for a
// thread that dies (out of memory, a native crash) in gate-threads.test.ts.
import type { Prepare } from '../../pipeline/index.ts';

export function exitOnFirstRange(): Prepare<number> {
  return (accepted) => {
    if (accepted.length > 0) process.exit(3);
    return 0;
  };
}
