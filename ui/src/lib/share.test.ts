import { describe, expect, it } from 'vitest';
import { share } from './share';

describe('share', () => {
  it('is the old value when the new one is deeply equal', () => {
    const prev = { a: 1, b: [1, 2, { c: null }], d: 'x' };
    expect(share(prev, { a: 1, b: [1, 2, { c: null }], d: 'x' })).toBe(prev);
  });

  it('keeps the unchanged parts of a changed value', () => {
    const prev = { host: { cpu: 1, fs: [{ m: '/' }] }, mta: { queue: 3 } };
    const next = share(prev, { host: { cpu: 2, fs: [{ m: '/' }] }, mta: { queue: 3 } });
    expect(next).not.toBe(prev);
    expect(next).toEqual({ host: { cpu: 2, fs: [{ m: '/' }] }, mta: { queue: 3 } });
    expect(next.mta).toBe(prev.mta);
    expect(next.host.fs).toBe(prev.host.fs);
  });

  it('sees added, removed and reordered keys and elements', () => {
    const prev: Record<string, unknown> = { a: 1, b: 2 };
    expect(share(prev, { a: 1 })).toEqual({ a: 1 });
    expect(share(prev, { a: 1, b: 2, c: 3 })).toEqual({ a: 1, b: 2, c: 3 });
    expect(share(prev, { a: 1, c: 2 })).toEqual({ a: 1, c: 2 });
    const list = [1, 2, 3];
    expect(share(list, [1, 2])).toEqual([1, 2]);
    expect(share(list, [3, 2, 1])).toEqual([3, 2, 1]);
    expect(share<unknown>(list, { 0: 1, 1: 2, 2: 3 })).not.toBe(list);
  });

  it('treats null, NaN and class instances plainly', () => {
    expect(share<unknown>(null, { a: 1 })).toEqual({ a: 1 });
    expect(share<unknown>({ a: 1 }, null)).toBeNull();
    expect(share(NaN, NaN)).toBeNaN();
    const d = new Date(0);
    expect(share(new Date(0), d)).toBe(d);
  });
});
