// `npm run bench`: runs every bench/*.bench.ts (or the ones named on the command line), prints
// their figures and writes them to bench/results/<name>.json and bench/results/latest.md.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchReport {
  title: string;
  /** One object per row; the keys of the first row are the columns. */
  rows: Record<string, string | number>[];
  notes?: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const quick = process.argv.includes('--quick');
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

// A quick run (CI) writes elsewhere: its figures are not the ones to quote.
const out = join(here, quick ? 'results/quick' : 'results');
mkdirSync(out, { recursive: true });
const sections: string[] = [
  `# switchboard benchmarks\n\n${new Date().toISOString()}, Node ${process.version}\n`,
];

for (const file of files) {
  const name = basename(file, '.bench.ts');
  const mod = (await import(join(here, file))) as { default: () => Promise<BenchReport | BenchReport[]> };
  const started = performance.now();
  const reports = [await mod.default()].flat();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(reports, null, 2)}\n`);
  for (const report of reports) {
    console.log(`\n## ${report.title} (${name}, ${seconds} s)`);
    console.table(report.rows);
    for (const note of report.notes ?? []) console.log(`  ${note}`);
    sections.push(markdown(report));
  }
}
// latest.md holds every benchmark's last results, also those not run this time (read back from
// their JSON), so a partial run (`npm run bench -- store`) does not drop the others.
for (const file of readdirSync(out)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  if (files.some((f) => basename(f, '.bench.ts') === basename(file, '.json'))) continue;
  try {
    const reports = JSON.parse(readFileSync(join(out, file), 'utf8')) as BenchReport[];
    if (Array.isArray(reports) && reports.every((r) => Array.isArray(r?.rows)))
      for (const report of reports) sections.push(markdown(report));
  } catch {
    // not a benchmark's results
  }
}
writeFileSync(join(out, 'latest.md'), sections.join('\n'));
console.log(`\nwritten to ${out}/`);

function markdown(report: BenchReport): string {
  const cols = Object.keys(report.rows[0] ?? {});
  const lines = [`## ${report.title}\n`, `| ${cols.join(' | ')} |`, `|${cols.map(() => ' --- ').join('|')}|`];
  for (const row of report.rows) lines.push(`| ${cols.map((c) => String(row[c] ?? '')).join(' | ')} |`);
  for (const note of report.notes ?? []) lines.push(`\n${note}`);
  return `${lines.join('\n')}\n`;
}
