// A strict reader of the Prometheus text exposition format (0.0.4), for tests: every sample must
// belong to the family its `# TYPE` line announced (histograms through _bucket/_sum/_count), label
// values are unescaped, and a histogram's buckets must be cumulative and end in +Inf = _count.
// (parse-prometheus-text-format was tried: it merges a histogram's label sets when `le` comes
// first, as prom-client writes it.) promtool check metrics is the second opinion, in CI.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  // Prometheus parses floats as Go does (NaN in any case: prom-client writes "Nan").
  if (text.toLowerCase() === 'nan') return Number.NaN;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`line ${line}: bad value "${text}"`);
  return n;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq).trim();
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (name in labels) throw new Error(`line ${line}: label "${name}" twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value of "${name}" not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        value += next === 'n' ? '\n' : next === '\\' ? '\\' : next === '"' ? '"' : `\\${next}`;
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

function familyOf(sample: string, family: Family | undefined): boolean {
  if (!family) return false;
  if (family.type === 'histogram')
    return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`].includes(sample);
  if (family.type === 'summary')
    return [family.name, `${family.name}_sum`, `${family.name}_count`].includes(sample);
  return sample === family.name;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const help = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('# HELP ')) {
      const [, name = '', ...rest] = raw.split(' ').slice(1);
      help.set(name, rest.join(' '));
      return;
    }
    if (raw.startsWith('# TYPE ')) {
      const [name = '', type = ''] = raw.slice(7).split(' ');
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type))
        throw new Error(`line ${line}: bad type "${type}"`);
      if (families.has(name)) throw new Error(`line ${line}: ${name} declared twice`);
      current = { name, help: help.get(name) ?? '', type: type as MetricType, samples: [] };
      families.set(name, current);
      return;
    }
    if (raw.startsWith('#')) return;
    const match = /^([^\s{]+)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(raw);
    if (!match) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name = '', labelText = '', value = ''] = match;
    if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
    if (!familyOf(name, current)) throw new Error(`line ${line}: ${name} outside its # TYPE family`);
    current!.samples.push({ name, labels: parseLabels(labelText, line), value: parseValue(value, line) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = series.get(key);
    if (!entry) {
      entry = { buckets: [] };
      series.set(key, entry);
    }
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++)
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${f.name} ${key}: buckets not cumulative`);
    const inf = buckets.at(-1);
    if (!inf || inf[0] !== Number.POSITIVE_INFINITY) throw new Error(`${f.name} ${key}: no +Inf bucket`);
    if (inf[1] !== count) throw new Error(`${f.name} ${key}: +Inf bucket ${inf[1]} != _count ${count}`);
  }
}

/** The label names of a family's samples (without `le`), each set sorted and joined. */
export function labelSets(f: Family): string[] {
  const sets = new Set<string>();
  for (const s of f.samples)
    sets.add(
      Object.keys(s.labels)
        .filter((k) => k !== 'le')
        .sort()
        .join(','),
    );
  return [...sets].sort();
}
