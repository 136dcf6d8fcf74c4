import { createSubscriber } from 'svelte/reactivity';

// One listener for the whole page, attached while some effect is interested.
const subscribe = createSubscriber((update) => {
  document.addEventListener('visibilitychange', update);
  return () => document.removeEventListener('visibilitychange', update);
});

/**
 * Whether the page can be seen (not a hidden or minimised window). Reactive: an effect
 * that reads it re-runs when the window is shown again, so work skipped while hidden is
 * done once, then.
 */
export function pageVisible(): boolean {
  if (typeof document === 'undefined') return true;
  subscribe();
  return document.visibilityState !== 'hidden';
}
