// Offset ranges as the exactly-once protocols write them into offset commits and insert tokens.
import { describe, expect, it } from 'vitest';
import { dedupToken, groupToken, parsePending, pendingMetadata } from '../pipeline/index.ts';

describe('offset ranges', () => {
  it('names a group of one exactly as its range, so either protocol can finish the other', () => {
    const range = { first: 100, last: 249 };
    expect(groupToken('events', [{ partition: 3, range }])).toBe(dedupToken('events', 3, range));
    expect(
      groupToken('events', [
        { partition: 1, range: { first: 0, last: 9 } },
        { partition: 0, range },
      ]),
    ).toBe('events:1:0-9,0:100-249');
  });

  it('reads back what it announces, with and without a group', () => {
    const range = { first: 5, last: 7 };
    expect(parsePending(pendingMetadata(range))).toEqual(range);
    expect(parsePending(pendingMetadata(range, 'events:0:5-7,2:1-3'))).toEqual({
      ...range,
      group: 'events:0:5-7,2:1-3',
    });
  });

  it('ignores metadata it did not write', () => {
    for (const metadata of [null, '', 'x', '{}', '{"pending":"7-5"}', '{"pending":5}'])
      expect(parsePending(metadata)).toBeUndefined();
    expect(parsePending('{"pending":"1-2","group":""}')).toEqual({ first: 1, last: 2 });
  });

  it('refuses an empty group', () => {
    expect(() => groupToken('events', [])).toThrow(/at least one member/);
  });
});
