import type { SampleBatch } from '../types';

type Column = readonly (number | null)[];

/**
 * The window's bounded copy of recent samples, column-wise like the Rust side.
 * Gaps stay null so charts draw them as gaps.
 *
 * Reactive: `ts` and the columns are `$state.raw` arrays that an append replaces
 * wholesale (never mutates), so a chart can hold the arrays it drew and tell new data
 * by identity, and a reader wakes only when something was appended.
 */
export class Timeline {
  /** Timestamps in seconds, oldest first. */
  ts = $state.raw<readonly number[]>([]);
  /** Series names, sorted; the same array until a series appears or the timeline restarts. */
  keys = $state.raw<readonly string[]>([]);
  #columns = $state.raw<ReadonlyMap<string, Column>>(new Map());
  /** One all-null column per `ts` array, shared by every series this timeline lacks. */
  #nulls: { ts: readonly number[]; col: Column } | null = null;

  constructor(public readonly maxAgeS: number) {}

  append(batch: SampleBatch): void {
    let base = this.ts;
    let columns = this.#columns;
    let accepted: number[] = [];
    for (let i = 0; i < batch.ts.length; i++) {
      const t = batch.ts[i];
      const last = accepted.length ? batch.ts[accepted[accepted.length - 1]] : base[base.length - 1];
      if (last !== undefined && t < last) {
        // The clock went backwards: start over rather than draw a zigzag.
        base = [];
        columns = new Map();
        accepted = [];
      } else if (last !== undefined && t === last) {
        continue;
      }
      accepted.push(i);
    }
    // Nothing new (a restart always accepts the sample that caused it): nobody wakes.
    if (!accepted.length) return;

    const newest = batch.ts[accepted[accepted.length - 1]];
    const tsAt = (k: number) => (k < base.length ? base[k] : batch.ts[accepted[k - base.length]]);
    const total = base.length + accepted.length;
    // Samples older than maxAgeS before the newest are dropped (bounded like the engine's ring).
    let drop = 0;
    while (drop < total && newest - tsAt(drop) > this.maxAgeS) drop++;

    const ts = base.slice(drop);
    for (let k = Math.max(0, drop - base.length); k < accepted.length; k++) ts.push(batch.ts[accepted[k]]);

    const names = new Set(columns.keys());
    for (const name of Object.keys(batch.series)) names.add(name);
    const next = new Map<string, Column>();
    for (const name of names) {
      const old = columns.get(name);
      // A series first seen now is null for the samples before it.
      const out = old ? old.slice(drop) : new Array<number | null>(Math.max(0, base.length - drop)).fill(null);
      const values = batch.series[name];
      for (let k = Math.max(0, drop - base.length); k < accepted.length; k++) {
        const v = values?.[accepted[k]];
        out.push(v === undefined ? null : v);
      }
      next.set(name, out);
    }

    const keys = [...names].sort();
    this.ts = ts;
    this.#columns = next;
    if (!sameStrings(keys, this.keys)) this.keys = keys;
  }

  /** Forgets every sample (another server's figures are about to be shown). */
  clear(): void {
    this.ts = [];
    this.#columns = new Map();
    this.#nulls = null;
    if (this.keys.length) this.keys = [];
  }

  column(name: string): Column | undefined {
    return this.#columns.get(name);
  }

  latest(name: string): number | null {
    const col = this.#columns.get(name);
    return col && col.length ? col[col.length - 1] : null;
  }

  /** Series names with a prefix ("disk_io:" → per-device series). */
  names(prefix: string): string[] {
    return this.keys.filter((k) => k.startsWith(prefix));
  }

  /** uPlot's aligned data: [x, ...ys]; the arrays are this timeline's own, not copies. */
  data(names: readonly string[]): (readonly (number | null)[])[] {
    return [this.ts, ...names.map((n) => this.#columns.get(n) ?? this.#nullColumn())];
  }

  #nullColumn(): Column {
    if (this.#nulls?.ts !== this.ts) this.#nulls = { ts: this.ts, col: new Array(this.ts.length).fill(null) };
    return this.#nulls.col;
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
