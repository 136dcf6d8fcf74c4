/**
 * Keys for a keyed `{#each}` from a natural key that may repeat (two alerts in the same
 * second, Postfix's `smtp inet` and `smtp unix`): the n-th repeat gets a suffix. Counted
 * from the END, so the keys of older entries stay put when newer ones are prepended
 * (the probe and alert logs), and their rows are not rebuilt.
 */
export function uniqueKeys<T>(list: readonly T[], key: (x: T) => string): string[] {
  const seen = new Map<string, number>();
  const out = new Array<string>(list.length);
  for (let i = list.length - 1; i >= 0; i--) {
    const k = key(list[i]);
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    out[i] = n === 0 ? k : `${k}\u0000${n}`;
  }
  return out;
}
