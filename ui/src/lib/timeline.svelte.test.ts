import { describe, expect, it } from 'vitest';
import { flushSync } from 'svelte';
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

describe('Timeline as reactive state', () => {
  it('replaces its arrays on append and never changes ones it handed out', () => {
    const t = new Timeline(3600);
    t.append({ ts: [1, 2], series: { cpu: [10, 20] } });
    const [ts, cpu] = t.data(['cpu']);
    t.append({ ts: [3], series: { cpu: [30] } });
    expect(ts).toEqual([1, 2]);
    expect(cpu).toEqual([10, 20]);
    const [ts2, cpu2] = t.data(['cpu']);
    expect(ts2).not.toBe(ts);
    expect(cpu2).toEqual([10, 20, 30]);
    // Same arrays until the next append: a chart can tell new data by identity.
    expect(t.data(['cpu'])[1]).toBe(cpu2);
  });

  it('gives a series it lacks as one shared column of nulls', () => {
    const t = new Timeline(3600);
    t.append({ ts: [1, 2], series: { cpu: [1, 2] } });
    const a = t.data(['nope'])[1];
    expect(a).toEqual([null, null]);
    expect(t.data(['nope'])[1]).toBe(a);
  });

  it('keeps its keys array until a series appears, and lists names by prefix, sorted', () => {
    const t = new Timeline(3600);
    t.append({ ts: [1], series: { 'disk_io:sdb': [1], 'disk_io:sda': [2], cpu: [3] } });
    const keys = t.keys;
    t.append({ ts: [2], series: { 'disk_io:sdb': [1], 'disk_io:sda': [2], cpu: [3] } });
    expect(t.keys).toBe(keys);
    expect(t.names('disk_io:')).toEqual(['disk_io:sda', 'disk_io:sdb']);
    t.append({ ts: [3], series: { 'disk_io:sdc': [1] } });
    expect(t.keys).not.toBe(keys);
    expect(t.names('disk_io:')).toEqual(['disk_io:sda', 'disk_io:sdb', 'disk_io:sdc']);
    // A series missing from a tick is a gap in it, not the end of it.
    expect(t.data(['cpu'])[1]).toEqual([3, 3, null]);
  });

  it('wakes its readers on new samples only', () => {
    const t = new Timeline(3600);
    let runs = 0;
    const stop = $effect.root(() => {
      $effect(() => {
        void t.data(['cpu']);
        runs++;
      });
    });
    flushSync();
    expect(runs).toBe(1);
    t.append({ ts: [1], series: { cpu: [1] } });
    flushSync();
    expect(runs).toBe(2);
    // A repeated timestamp and an empty batch are nothing new.
    t.append({ ts: [1], series: { cpu: [5] } });
    t.append({ ts: [], series: {} });
    flushSync();
    expect(runs).toBe(2);
    stop();
  });

  it('restarts within a batch when its clock goes back, and prunes across the batch', () => {
    const t = new Timeline(10);
    t.append({ ts: [100, 101], series: { cpu: [1, 2] } });
    t.append({ ts: [102, 50, 51, 70], series: { cpu: [3, 4, 5, 6] } });
    expect(t.ts).toEqual([70]);
    expect(t.latest('cpu')).toBe(6);
    const u = new Timeline(10);
    u.append({ ts: [0, 5], series: { cpu: [0, 5] } });
    u.append({ ts: [8, 12, 20], series: { cpu: [8, 12, 20] } });
    expect(u.ts).toEqual([12, 20]);
    expect(u.data(['cpu'])[1]).toEqual([12, 20]);
  });
});
