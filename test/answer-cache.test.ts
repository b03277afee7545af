// Answers shared between identical SQL statements: only while the state they depend on holds, for
// at most their age, and one computation for statements that arrive together.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AnswerCache, ParseCache } from '../serving-layer/sql/answer-cache.ts';

function counted(value = 'answer') {
  let calls = 0;
  const compute = async () => {
    calls++;
    await sleep(10);
    return { body: Buffer.from(`${value} ${calls}`) };
  };
  return { compute, calls: () => calls };
}

describe('AnswerCache', () => {
  it('shares an answer between identical statements until the state moves', async () => {
    let state = 'seq 1';
    const cache = new AnswerCache(60_000, 1 << 20, async () => state);
    const { compute, calls } = counted();
    const first = await cache.through({ sql: 'SELECT 1' }, compute);
    expect((await cache.through({ sql: 'SELECT 1' }, compute)).body).toEqual(first.body);
    expect(calls()).toBe(1);
    await cache.through({ sql: 'SELECT 2' }, compute);
    expect(calls()).toBe(2);
    state = 'seq 2';
    expect((await cache.through({ sql: 'SELECT 1' }, compute)).body.toString()).toBe('answer 3');
  });

  it('answers statements that arrive together with one computation, and shares no failure', async () => {
    const cache = new AnswerCache(60_000, 1 << 20, async () => 'state');
    const { compute, calls } = counted();
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.through('same', compute)));
    expect(calls()).toBe(1);
    expect(new Set(answers.map((a) => a.body.toString())).size).toBe(1);
    const failing = () => Promise.reject(new Error('engine refused'));
    await expect(cache.through('fails', failing)).rejects.toThrow('engine refused');
    const { compute: later } = counted('recovered');
    expect((await cache.through('fails', later)).body.toString()).toBe('recovered 1');
  });

  it('recomputes past the age, never shares without a state, and never when off', async () => {
    const aged = new AnswerCache(30, 1 << 20, async () => 'state');
    const { compute, calls } = counted();
    await aged.through('q', compute);
    await sleep(40);
    await aged.through('q', compute);
    expect(calls()).toBe(2);
    for (const cache of [
      new AnswerCache(60_000, 1 << 20, async () => undefined),
      new AnswerCache(0, 1 << 20, async () => 'state'),
    ]) {
      const { compute: each, calls: eachCalls } = counted();
      await cache.through('q', each);
      await cache.through('q', each);
      expect(eachCalls()).toBe(2);
    }
  });

  it('keeps within its bytes, dropping the oldest answers first', async () => {
    const cache = new AnswerCache(60_000, 400, async () => 'state');
    const big = (n: number) => async () => ({ body: Buffer.alloc(90, n) });
    for (let n = 0; n < 6; n++) await cache.through(`q${n}`, big(n));
    let recomputed = 0;
    await cache.through('q0', async () => {
      recomputed++;
      return { body: Buffer.alloc(90) };
    });
    await cache.through('q5', async () => {
      recomputed += 10;
      return { body: Buffer.alloc(90) };
    });
    expect(recomputed).toBe(1);
  });
});

describe('ParseCache', () => {
  it('parses a text with its parameters once', async () => {
    const cache = new ParseCache<string>(2);
    let parses = 0;
    const parse = async () => `parsed ${++parses}`;
    expect(await cache.through('SELECT 1', undefined, parse)).toBe('parsed 1');
    expect(await cache.through('SELECT 1', {}, parse)).toBe('parsed 1');
    expect(await cache.through('SELECT 1', { p: '1' }, parse)).toBe('parsed 2');
    await cache.through('SELECT 2', undefined, parse);
    expect(await cache.through('SELECT 1', undefined, parse)).toBe('parsed 4');
  });
});
