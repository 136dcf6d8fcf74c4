import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Destinations from './Destinations.svelte';
import type { DestinationReport, MaillogReport } from '../types';

const mounted: ReturnType<typeof mount>[] = [];
afterEach(() => {
  mounted.splice(0).forEach((m) => unmount(m));
  document.body.innerHTML = '';
});

function show(report: MaillogReport): HTMLElement {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted.push(mount(Destinations, { target, props: { report } }));
  flushSync();
  return target;
}

function destination(name: string, causes: DestinationReport['causes']): DestinationReport {
  return {
    name,
    counts: [{ class: 'rate_limit', count: 42 }],
    failures: 42,
    delivered: 3,
    failure_rate_per_min: 2.8,
    throttled_ratio: 42 / 45,
    per_minute: Array(60).fill(0),
    latest: {
      ts: 1800000000,
      class: 'rate_limit',
      side: 'remote',
      code: 451,
      enhanced: '4.7.23',
      text: "203.0.113.7 The sending IP address for this message doesn't have a PTR record",
      relay: 'gmail-smtp-in.l.google.com[142.250.1.27]:25',
      domain: name,
    },
    explanation: null,
    causes,
  };
}

function report(domains: DestinationReport[]): MaillogReport {
  return {
    window_s: 900,
    domains,
    relays: [],
    local: [],
    stats: { lines: 100, failures: 42, deliveries: 3, skipped_invalid_utf8: 0, skipped_binary: 0, skipped_too_long: 0 },
  };
}

describe('destinations panel', () => {
  it('names the cause the engine tied a destination\'s deferrals to, linked to the domain item', () => {
    const el = show(
      report([
        destination('gmail.com', [
          {
            item: 'reverse_dns',
            failures: 42,
            reply: '451 4.7.23',
            replies: '42 deferrals (451 4.7.23)',
            verdict: 'missing',
            found: 'your PTR for 203.0.113.7 is missing',
            message: 'gmail.com: 42 deferrals (451 4.7.23) point at reverse_dns — your PTR for 203.0.113.7 is missing',
          },
        ]),
        destination('example.net', []),
      ]),
    );
    const causes = el.querySelectorAll<HTMLElement>('[data-testid="destination-cause"]');
    expect(causes.length).toBe(1);
    const c = causes[0];
    expect(c.dataset.itemId).toBe('reverse_dns');
    expect(c.classList.contains('verdict-missing')).toBe(true);
    expect(c.textContent?.replace(/\s+/g, ' ').trim()).toBe(
      '42 deferrals (451 4.7.23) point at Reverse DNS — your PTR for 203.0.113.7 is missing',
    );
    expect(c.querySelector('a')?.getAttribute('href')).toBe('#item-reverse_dns');
    // The cause sits under its own destination's row.
    const row = c.closest('li');
    expect(row?.querySelector('[data-testid="destination-row"]')?.textContent).toContain('gmail.com');
  });

  it('an item that is not checked here is shown as such, never as the cause found', () => {
    const el = show(
      report([
        destination('yahoo.com', [
          {
            item: 'dnsbl',
            failures: 7,
            reply: '421 4.7.0',
            replies: '7 deferrals (421 4.7.0)',
            verdict: null,
            found: 'dnsbl is not checked here: set [dns] watch = true, or run `headroom-cli dns`',
            message: '',
          },
        ]),
      ]),
    );
    const c = el.querySelector<HTMLElement>('[data-testid="destination-cause"]');
    expect(c?.classList.contains('verdict-unchecked')).toBe(true);
    expect(c?.textContent).toContain('dnsbl is not checked here');
  });
});
