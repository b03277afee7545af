#!/usr/bin/env -S node --max-semi-space-size=64
// A larger young generation: the quality gate holds a batch of parsed events until it returns,
// and with the default one the collector copies most of each batch (bench/gate.ts).
// The CLI is TypeScript run through tsx's loader, so the repository needs no build step.
import { register } from 'tsx/esm/api';

// libuv's pool runs every embedded chDB call (each SQL endpoint session holds a thread for up to its
// time limit), file I/O and LZ4 work: four threads are too few for one process running it all.
process.env.UV_THREADPOOL_SIZE ??= '16';

register();
await import('../cli/main.ts');
