import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Banners from './Banners.svelte';
import { Dashboard } from './store.svelte';

vi.mock('../api', () => ({}));

const mounted: ReturnType<typeof mount>[] = [];
afterEach(() => {
  mounted.splice(0).forEach((m) => unmount(m));
  document.body.innerHTML = '';
  localStorage.clear();
});

function show(problems: Dashboard['problems'], trayProblem: string | null = null): HTMLElement {
  const dash = new Dashboard();
  dash.problems = problems;
  dash.trayProblem = trayProblem;
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

describe('the tray note', () => {
  const noHost = 'no StatusNotifier host is on the session bus to show it. … apt install gnome-shell-extension-appindicator …';

  it('says why no tray icon is seen, the fix, and that closing minimizes', () => {
    const el = show([], noHost);
    const note = el.querySelector('[data-testid="tray-problem"]');
    expect(note?.textContent).toContain('gnome-shell-extension-appindicator');
    expect(note?.textContent).toContain('Closing this window minimizes it');
    expect(note?.textContent).not.toContain('quits');
  });

  it('is said once: dismissed, it stays away in later windows while the reason is the same', () => {
    const el = show([], noHost);
    (el.querySelector('[data-testid="tray-problem-dismiss"]') as HTMLButtonElement).click();
    flushSync();
    expect(el.querySelector('[data-testid="tray-problem"]')).toBeNull();
    const again = show([], noHost);
    expect(again.querySelector('[data-testid="tray-problem"]')).toBeNull();
    const other = show([], 'libayatana-appindicator3 is not installed');
    expect(other.querySelector('[data-testid="tray-problem"]')?.textContent).toContain('libayatana');
  });

  it('is absent while the tray icon is seen', () => {
    expect(show([]).querySelector('[data-testid="tray-problem"]')).toBeNull();
  });
});
