// report.html: one self-contained page (Chart.js inlined, no network) with loss and cosine per epoch against the
// baselines' lines, and the model-vs-baselines table. The page marks on <body> how many plots it drew and
// whether they hold ink, which is what the headless-browser test reads.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ReportSeries {
  label: string;
  /** One value per epoch; null where there is none. */
  values: (number | null)[];
}

export interface ReportPlot {
  id: string;
  title: string;
  yLabel: string;
  series: ReportSeries[];
  /** Horizontal lines: what a baseline scores on the same split. */
  lines?: { label: string; value: number }[];
}

export interface ReportInput {
  title: string;
  /** Lines of plain text under the title: model, data, settings. */
  facts: string[];
  epochs: number[];
  plots: ReportPlot[];
  table: { headers: string[]; rows: (string | number)[][] };
}

let chartJs: string | undefined;

/** Chart.js's browser bundle, read once from its package. */
function chartBundle(): string {
  if (chartJs === undefined) {
    const main = createRequire(import.meta.url).resolve('chart.js');
    chartJs = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
  }
  return chartJs;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

// JSON inside <script>: `</script>` and friends must not end the element early.
const scriptJson = (x: unknown): string => JSON.stringify(x).replace(/</g, '\\u003c');

export function renderReport(input: ReportInput): string {
  const table = [
    `<tr>${input.table.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`,
    ...input.table.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(formatCell(c))}</td>`).join('')}</tr>`),
  ].join('\n');
  const canvases = input.plots
    .map((p) => `<figure><figcaption>${escapeHtml(p.title)}</figcaption><canvas id="${escapeHtml(p.id)}"></canvas></figure>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
figure { display: inline-block; width: 520px; height: 340px; margin: 0 1em 2em 0; }
table { border-collapse: collapse; margin-top: 1em; } td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
</style></head>
<body data-plots="0">
<h1>${escapeHtml(input.title)}</h1>
${input.facts.map((f) => `<p>${escapeHtml(f)}</p>`).join('\n')}
${canvases}
<h2>Model vs baselines</h2>
<table>${table}</table>
<script>${chartBundle()}</script>
<script id="report-data" type="application/json">${scriptJson({ epochs: input.epochs, plots: input.plots })}</script>
<script>${drawScript}</script>
</body></html>
`;
}

function formatCell(c: string | number): string {
  return typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(4)) : c;
}

// Runs in the page. Baseline lines are datasets of one constant value, dashed.
const drawScript = `
const data = JSON.parse(document.getElementById('report-data').textContent);
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f'];
let drawn = 0;
for (const plot of data.plots) {
  const datasets = plot.series.map((s, i) => ({ label: s.label, data: s.values, borderColor: colors[i % 8], tension: 0 }));
  (plot.lines || []).forEach((l, i) => datasets.push({ label: l.label, data: data.epochs.map(() => l.value),
    borderColor: colors[(plot.series.length + i) % 8], borderDash: [6, 4], pointRadius: 0 }));
  new Chart(document.getElementById(plot.id), {
    type: 'line',
    data: { labels: data.epochs, datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      scales: { x: { title: { display: true, text: 'epoch' } }, y: { title: { display: true, text: plot.yLabel } } } },
  });
  drawn++;
}
// What a test can check without looking at pixels itself: plots drawn, and canvases with paint on them.
const inked = [...document.querySelectorAll('canvas')].filter((c) => {
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
  return false;
}).length;
document.body.dataset.plots = String(drawn);
document.body.dataset.inked = String(inked);
`;
