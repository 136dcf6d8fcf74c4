// Drives the dashboard inside the bench browser (bench/idle.py) and reports to the
// runner over HTTP: the range-switch draw times (the same measure as
// tests/examples/ui_bench.rs) and when the idle measurement may start.
(() => {
  const params = new URLSearchParams(location.search);
  const post = (path, body) => fetch(path, { method: 'POST', body: JSON.stringify(body) });
  const q = (sel) => document.querySelector(sel);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  window.addEventListener('error', (e) => post('/log', `${e.message} (${e.filename}:${e.lineno})`));
  window.addEventListener('unhandledrejection', (e) => post('/log', String(e.reason)));

  // Milliseconds from the click until range-status reports the load and two frames passed.
  function timeRange(button) {
    return new Promise((done) => {
      const st = q('[data-testid=range-status]');
      q('[data-testid=range-live]').click();
      const t0 = performance.now();
      q(`[data-testid=${button}]`).click();
      const check = () => {
        if (st.textContent.includes('from history')) {
          requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
        } else setTimeout(check, 1);
      };
      check();
    });
  }
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

  async function main() {
    while (!(q('[data-testid=cpu-value]')?.textContent ?? '').endsWith('%')) await sleep(50);
    await sleep(1000);
    const result = {};
    if (params.get('time') === '1') {
      const day = [];
      for (let i = 0; i < 7; i++) day.push(await timeRange('range-24h'));
      result.day_status = q('[data-testid=range-status]').textContent;
      const hour = [];
      for (let i = 0; i < 7; i++) hour.push(await timeRange('range-1h'));
      result.day_ms = Math.round(median(day));
      result.hour_ms = Math.round(median(hour));
      result.hour_status = q('[data-testid=range-status]').textContent;
    }
    const range = params.get('range') ?? 'live';
    q(`[data-testid=range-${range}]`).click();
    await sleep(500);
    await post('/ready', result);
    // No traffic while the runner measures: the per-tick figures of exactly its window
    // are sent once it is over (it passes the window's start and length).
    const warmup = Number(params.get('warmup') ?? 5) * 1000;
    const measure = Number(params.get('measure') ?? 30) * 1000;
    await sleep(warmup);
    // What the ticks change in the DOM: mutation records by element.
    const changed = {};
    let records = 0;
    new MutationObserver((list) => {
      for (const m of list) {
        records++;
        const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        const name = `${m.type} ${el?.closest('[data-testid]')?.dataset.testid ?? ''} ${el?.tagName.toLowerCase()}.${el?.className?.baseVal ?? el?.className ?? ''}`;
        changed[name] = (changed[name] ?? 0) + 1;
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    window.__benchTickWork.length = 0;
    window.__benchTickScript.length = 0;
    await sleep(measure);
    await post('/ticks', { work: window.__benchTickWork.slice(), script: window.__benchTickScript.slice(), records, changed });
  }
  main().catch((e) => post('/ready', { error: String(e) }));
})();
