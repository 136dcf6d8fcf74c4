import { describe, expect, it } from 'vitest';
import { Timeline } from './timeline.svelte';

describe('Timeline', () => {
  it('keeps gaps as null and backfills late series', () => {
    const t = new Timeline(3600);
    t.append({ ts: [1, 2], series: { cpu: [10, null] } });
    t.append({ ts: [3], series: { cpu: [30], load1: [0.5] } });
    expect(t.data(['cpu', 'load1'])).toEqual([
      [1, 2, 3],
      [10, null, 30],
      [null, null, 0.5],
    ]);
    expect(t.latest('cpu')).toBe(30);
  });

  it('prunes by age', () => {
    const t = new Timeline(60);
    for (let i = 0; i < 500; i++) t.append({ ts: [i], series: { cpu: [i] } });
    expect(t.ts.length).toBe(61);
    expect(t.ts[0]).toBe(439);
  });

  it('ignores a repeated timestamp and restarts when time goes back', () => {
    const t = new Timeline(3600);
    t.append({ ts: [10], series: { cpu: [1] } });
    t.append({ ts: [10], series: { cpu: [2] } });
    expect(t.ts).toEqual([10]);
    t.append({ ts: [5], series: { cpu: [3] } });
    expect(t.ts).toEqual([5]);
    expect(t.latest('cpu')).toBe(3);
  });
});
