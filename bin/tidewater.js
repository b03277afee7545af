#!/usr/bin/env -S node --max-semi-space-size=64 --v8-pool-size=0
// A larger young generation: the quality gate holds a batch of parsed events until it returns,
// and with the default one the collector copies most of each batch (bench/gate.ts).
// V8's helper threads (the collector's parallel and concurrent work) one fewer than the cores, as
// --v8-pool-size=0 sizes them, rather than Node's fixed four: on 2 cores four helpers and the event
// loop contend for the cores the event loop needs (docs/soak.md, "The event loop waits for a core").
// The CLI is TypeScript run through tsx's loader, so the repository needs no build step.
import { register } from 'tsx/esm/api';

// libuv's pool runs every embedded chDB call (each SQL endpoint session holds a thread for up to its
// time limit), file I/O and LZ4 work: four threads are too few for one process running it all.
process.env.UV_THREADPOOL_SIZE ??= '16';

register();
await import('../cli/main.ts');
