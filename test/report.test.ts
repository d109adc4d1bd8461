// report.html renders in a real browser: headless Chromium loads the page from disk (no network), and the page
// itself says how many plots Chart.js drew and how many canvases hold paint.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { renderReport } from '../dist/lvm/train/report.js';
import { skipUnless } from './helpers/skip.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = {
  title: 'gru on the built-in synthetic corpus </script><b>',
  facts: ['7,359,232 parameters', 'split by document: 800 / 100 / 100 documents'],
  epochs: [1, 2, 3, 4],
  plots: [
    { id: 'loss', title: 'loss per epoch', yLabel: 'loss',
      series: [{ label: 'train', values: [1.0, 0.7, 0.5, 0.45] }, { label: 'val', values: [1.1, 0.8, 0.6, null] }] },
    { id: 'cosine', title: 'cosine per epoch', yLabel: 'cosine',
      series: [{ label: 'val', values: [0.5, 0.6, 0.7, 0.72] }],
      lines: [{ label: 'global mean', value: 0.48 }, { label: 'ridge', value: 0.61 }] },
  ],
  table: { headers: ['predictor', 'val cosine', 'test cosine'], rows: [['gru', 0.72, 0.71], ['ridge', 0.61, 0.6]] },
};

describe('report.html', () => {
  it('is one self-contained page: the title is escaped and no resource comes from the network', () => {
    const html = renderReport(input);
    expect(html).toContain('gru on the built-in synthetic corpus &lt;/script&gt;&lt;b&gt;');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(html).toContain('<td>0.7200</td>');
  });

  it('draws both plots with paint on them in headless Chromium', (ctx) => {
    skipUnless(ctx, CHROMIUM ? null : 'no chromium in /usr/bin (apt-get install chromium; npm run setup installs it)');
    const path = join(dir, 'report.html');
    writeFileSync(path, renderReport(input));
    const r = spawnSync(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--window-size=1200,900', '--virtual-time-budget=5000', '--dump-dom', `file://${path}`],
    { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/<body[^>]*data-plots="2"/);
    expect(r.stdout).toMatch(/<body[^>]*data-inked="2"/);
  });
});
