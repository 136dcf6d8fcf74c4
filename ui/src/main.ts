import { mount } from 'svelte';
import './app.css';
import 'uplot/dist/uPlot.min.css';
import App from './App.svelte';

/** A UI that fails to start says why instead of staying blank. */
function showFatal(what: string): void {
  const box = document.createElement('pre');
  box.setAttribute('role', 'alert');
  box.dataset.testid = 'ui-error';
  box.className = 'fatal';
  box.textContent = `The dashboard failed: ${what}`;
  document.body.prepend(box);
}

window.addEventListener('error', (e) => showFatal(`${e.message} (${e.filename}:${e.lineno})`));
window.addEventListener('unhandledrejection', (e) => showFatal(String(e.reason)));

const target = document.getElementById('app');
let app: ReturnType<typeof mount> | undefined;
try {
  if (!target) throw new Error('missing #app');
  app = mount(App, { target });
} catch (err) {
  showFatal(err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err));
}
export default app;
