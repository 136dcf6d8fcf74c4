import type { SampleBatch } from '../types';

/**
 * The window's bounded copy of recent samples, column-wise like the Rust side.
 * Gaps stay null so charts draw them as gaps.
 */
export class Timeline {
  ts: number[] = [];
  series: Map<string, (number | null)[]> = new Map();

  constructor(public maxAgeS: number) {}

  append(batch: SampleBatch): void {
    for (let i = 0; i < batch.ts.length; i++) {
      const t = batch.ts[i];
      const last = this.ts[this.ts.length - 1];
      if (last !== undefined && t < last) {
        // The clock went backwards: start over rather than draw a zigzag.
        this.ts = [];
        this.series = new Map();
      } else if (last !== undefined && t === last) {
        continue;
      }
      const n = this.ts.length;
      this.ts.push(t);
      for (const name of Object.keys(batch.series)) {
        if (!this.series.has(name)) this.series.set(name, new Array(n).fill(null));
      }
      for (const [name, col] of this.series) {
        const v = batch.series[name]?.[i];
        col.push(v === undefined ? null : v);
      }
    }
    this.prune();
  }

  private prune(): void {
    const newest = this.ts[this.ts.length - 1];
    if (newest === undefined) return;
    let drop = 0;
    while (drop < this.ts.length && newest - this.ts[drop] > this.maxAgeS) drop++;
    if (drop > 0) {
      this.ts.splice(0, drop);
      for (const col of this.series.values()) col.splice(0, drop);
    }
  }

  latest(name: string): number | null {
    const col = this.series.get(name);
    return col && col.length ? col[col.length - 1] : null;
  }

  /** Series names with a prefix ("disk_io:" → per-device series). */
  names(prefix: string): string[] {
    return [...this.series.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** uPlot's aligned data: [x, ...ys]. */
  data(names: string[]): (number | null)[][] {
    return [this.ts, ...names.map((n) => this.series.get(n) ?? new Array(this.ts.length).fill(null))];
  }
}
