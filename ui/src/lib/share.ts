/**
 * Structural sharing for state that arrives whole on every tick: `share(prev, next)` is
 * `next`, except that every part deeply equal to the same part of `prev` IS that part of
 * `prev` (and an equal whole is `prev` itself). Assigned to `$state.raw`, an unchanged
 * value keeps its identity, so nothing that reads it re-runs or re-renders.
 */
export function share<T>(prev: T, next: T): T {
  if (Object.is(prev, next)) return prev;
  if (Array.isArray(prev) && Array.isArray(next)) {
    let same = prev.length === next.length;
    const out = next.map((v, i) => {
      const s = share(prev[i], v);
      if (s !== prev[i]) same = false;
      return s;
    });
    return (same ? prev : out) as T;
  }
  if (isPlain(prev) && isPlain(next)) {
    const before = prev as Record<string, unknown>;
    const after = next as Record<string, unknown>;
    let same = Object.keys(before).length === Object.keys(after).length;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(after)) {
      const s = share(before[k], after[k]);
      if (!(k in before) || s !== before[k]) same = false;
      out[k] = s;
    }
    return (same ? prev : out) as T;
  }
  return next;
}

function isPlain(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
