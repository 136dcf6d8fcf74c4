import { describe, expect, it } from 'vitest';
import { uniqueKeys } from './keys';

describe('uniqueKeys', () => {
  it('is the natural key when it does not repeat', () => {
    expect(uniqueKeys(['a', 'b'], (x) => x)).toEqual(['a', 'b']);
  });

  it('makes repeats unique, and older entries keep their keys when newer ones are prepended', () => {
    const older = uniqueKeys(['x', 'y', 'x'], (x) => x);
    expect(new Set(older).size).toBe(3);
    const newer = uniqueKeys(['x', 'x', 'y', 'x'], (x) => x);
    expect(new Set(newer).size).toBe(4);
    expect(newer.slice(1)).toEqual(older);
  });
});
