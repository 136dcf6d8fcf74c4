import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Banners from './Banners.svelte';
import { Dashboard } from './store.svelte';

vi.mock('../api', () => ({}));

const mounted: ReturnType<typeof mount>[] = [];
afterEach(() => {
  mounted.splice(0).forEach((m) => unmount(m));
  document.body.innerHTML = '';
});

function show(problems: Dashboard['problems']): HTMLElement {
  const dash = new Dashboard();
  dash.problems = problems;
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted.push(mount(Banners, { target, props: { dash } }));
  flushSync();
  return target;
}

describe('source problems', () => {
  it('a host without a mail log is one plain note with the setting, not "could not read"', () => {
    const message = 'No mail log found: … e.g. [[maillog]] path = "/var/log/mail.log"';
    const el = show([{ source: 'mail log journald', message, kind: 'absent' }]);
    const note = el.querySelector('[data-testid="source-absent"]');
    expect(note?.textContent).toBe(message);
    expect(el.textContent).not.toContain('Could not read');
    expect(el.querySelectorAll('.banner').length).toBe(1);
  });

  it('a failed source still says what could not be read', () => {
    const el = show([{ source: 'mta', message: 'sampling timed out', kind: 'failed' }]);
    expect(el.textContent).toContain('Could not read mta: sampling timed out');
    expect(el.querySelector('[data-testid="source-absent"]')).toBeNull();
  });
});
