import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app loads the built files from disk (tauri.conf.json frontendDist); there is no
// dev server in production, and nothing is fetched from the network.
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    // Inline nothing: the CSP allows only 'self' scripts, styles and images.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
  // Svelte's client runtime (mount) under vitest.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
}));
