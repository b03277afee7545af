#!/usr/bin/env -S node --max-semi-space-size=64
// A larger young generation: the quality gate holds a batch of parsed events until it returns,
// and with the default one the collector copies most of each batch (bench/gate.ts).
// The CLI is TypeScript run through tsx's loader, so the repository needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
