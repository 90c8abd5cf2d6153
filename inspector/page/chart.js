// Draws a machine's state chart: the graph from /inspector/machines.json laid out by elkjs (layered,
// nested states kept inside their parents), rendered once per machine as an SVG template that every
// actor of that machine clones; the active states are then marked by toggling one class.

/**
 * @typedef {import('../protocol.ts').MachineGraph} MachineGraph
 * @typedef {import('../protocol.ts').GraphState} GraphState
 * @typedef {import('../protocol.ts').GraphTransition} GraphTransition
 * @typedef {import('elkjs/lib/elk-api').ElkNode} ElkNode
 * @typedef {import('elkjs/lib/elk-api').ElkExtendedEdge} ElkExtendedEdge
 * @typedef {import('elkjs/lib/elk-api').ELK} ElkApi
 * @typedef {{ svg: SVGSVGElement, states: Map<string, SVGGElement> }} ChartInstance
 */

const SVG = 'http://www.w3.org/2000/svg';
const FONT = '12px sans-serif';
const BOLD = 'bold 13px sans-serif';
const SMALL = '11px sans-serif';
const LINE = 16;
const PAD = 8;
const ANY = '::any';
const INITIAL = '::initial';

/** @type {CanvasRenderingContext2D | null} */
let measure = null;

/**
 * Width of `text` in px when drawn with `font` (the SVG uses the same fonts, see style.css).
 * @param {string} text
 * @param {string} [font]
 */
function textWidth(text, font = FONT) {
  measure ??= document.createElement('canvas').getContext('2d');
  if (!measure) return text.length * 7;
  measure.font = font;
  return Math.ceil(measure.measureText(text).width);
}

/** @param {GraphTransition} t */
function transitionText(t) {
  return t.guard ? `${t.label} [${t.guard}]` : t.label;
}

/**
 * The lines written inside a state box: tags, invoked actors, and the transitions that only run
 * actions (no target), which as arrows would all be loops.
 * @param {GraphState} state
 * @param {GraphTransition[]} own
 */
function stateLines(state, own) {
  /** @type {{ text: string, cls: string }[]} */
  const lines = [];
  if (state.tags.length) lines.push({ text: state.tags.map((t) => `#${t}`).join(' '), cls: 'tags' });
  for (const src of state.invoke) lines.push({ text: `invoke ${src}`, cls: 'invoke' });
  const seen = new Set();
  for (const t of own) {
    if (t.targets.length) continue;
    const text = transitionText(t);
    if (seen.has(text)) continue;
    seen.add(text);
    lines.push({ text: `${text}${t.actions.length ? ` / ${t.actions.join(', ')}` : ''}`, cls: 'internal' });
  }
  return lines;
}

/**
 * Lays out and draws a machine; the result is a template to clone with instantiate().
 * @param {MachineGraph} graph
 * @param {ElkApi} elk
 * @returns {Promise<SVGSVGElement>}
 */
export async function drawMachine(graph, elk) {
  /** @type {Map<string, GraphState>} */
  const states = new Map();
  /** @type {Map<string, string | null>} */
  const parentOf = new Map();
  /** @param {GraphState} s @param {string | null} parent */
  const index = (s, parent) => {
    states.set(s.id, s);
    parentOf.set(s.id, parent);
    for (const c of s.children) index(c, s.id);
  };
  index(graph.root, null);
  /** @type {Map<string, GraphTransition[]>} */
  const bySource = new Map();
  for (const t of graph.transitions) {
    const list = bySource.get(t.source) ?? [];
    list.push(t);
    bySource.set(t.source, list);
  }
  const rootId = graph.root.id;
  const anyNeeded = graph.transitions.some((t) => t.source === rootId && t.targets.length > 0);
  if (anyNeeded) parentOf.set(rootId + ANY, rootId);

  /** @type {Map<string, { lines: { text: string, cls: string }[] }>} */
  const boxes = new Map();
  /** @type {Map<string, ElkNode>} */
  const elkNodes = new Map();

  /** @param {GraphState} s @returns {ElkNode} */
  const nodeOf = (s) => {
    const lines = stateLines(s, bySource.get(s.id) ?? []);
    boxes.set(s.id, { lines });
    const width = Math.max(textWidth(s.key, BOLD), ...lines.map((l) => textWidth(l.text, SMALL))) + 2 * PAD;
    const header = LINE + 6 + lines.length * LINE;
    /** @type {ElkNode} */
    let node;
    if (s.children.length === 0) {
      node = { id: s.id, width, height: header + PAD };
    } else {
      const children = s.children.map(nodeOf);
      if (s.initial) {
        parentOf.set(s.id + INITIAL, s.id);
        children.unshift({ id: s.id + INITIAL, width: 10, height: 10 });
      }
      if (s.id === rootId && anyNeeded) {
        children.push({ id: rootId + ANY, width: textWidth('any state', SMALL) + 16, height: 20 });
      }
      node = {
        id: s.id,
        children,
        edges: [],
        layoutOptions: {
          'elk.padding': `[top=${header + 10},left=14,bottom=14,right=14]`,
          'elk.nodeSize.constraints': 'MINIMUM_SIZE',
          'elk.nodeSize.minimum': `(${width + 2 * PAD}, ${header + 30})`,
        },
      };
    }
    elkNodes.set(s.id, node);
    return node;
  };
  const rootNode = nodeOf(graph.root);

  /** @param {string} id */
  const ancestors = (id) => {
    const out = [];
    for (let p = parentOf.get(id); p; p = parentOf.get(p)) out.push(p);
    return out;
  };
  /** The deepest state that contains both ends (an edge lives there and is laid out relative to it). */
  const containerOf = (/** @type {string} */ a, /** @type {string} */ b) => {
    const up = ancestors(b);
    return ancestors(a).find((p) => up.includes(p)) ?? rootId;
  };
  /** Transitions between the same two states share one arrow, its label one line per transition. */
  /** @type {Map<string, GraphTransition[]>} */
  const edgeTransitions = new Map();
  /** @param {ElkExtendedEdge} edge @param {string} container */
  const addEdge = (edge, container) => {
    const node = elkNodes.get(container) ?? rootNode;
    node.edges ??= [];
    node.edges.push(edge);
  };
  for (const s of states.values()) {
    if (s.initial) {
      addEdge({ id: `${s.id}${INITIAL}>`, sources: [s.id + INITIAL], targets: [s.initial] }, s.id);
    }
  }
  /** @type {Map<string, { source: string, target: string, list: GraphTransition[] }>} */
  const pairs = new Map();
  for (const t of graph.transitions) {
    for (const target of t.targets) {
      const source = t.source === rootId && graph.root.children.length ? rootId + ANY : t.source;
      const key = `${source}>${target}`;
      const pair = pairs.get(key) ?? { source, target, list: [] };
      pair.list.push(t);
      pairs.set(key, pair);
    }
  }
  for (const [key, { source, target, list }] of pairs) {
    const lines = [...new Set(list.map(transitionText))];
    edgeTransitions.set(key, list);
    addEdge(
      {
        id: key,
        sources: [source],
        targets: [target],
        labels: [
          {
            text: lines.join('\n'),
            width: Math.max(...lines.map((l) => textWidth(l, SMALL))) + 4,
            height: lines.length * LINE,
          },
        ],
      },
      containerOf(source, target),
    );
  }

  const elkRoot = /** @type {ElkNode} */ ({
    id: `${rootId}::graph`,
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeNode': '14',
      'elk.spacing.edgeEdge': '10',
      'elk.spacing.edgeLabel': '3',
      'elk.edgeLabels.inline': 'false',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
    },
    children: [rootNode],
    edges: [],
  });
  const laid = /** @type {ElkNode} */ (await elk.layout(elkRoot));
  return render(graph, laid, { states, boxes, edgeTransitions, rootId });
}

/**
 * @param {MachineGraph} graph
 * @param {ElkNode} laid
 * @param {{ states: Map<string, GraphState>, boxes: Map<string, { lines: { text: string, cls: string }[] }>,
 *   edgeTransitions: Map<string, GraphTransition[]>, rootId: string }} info
 */
function render(graph, laid, info) {
  const width = Math.ceil(laid.width ?? 100);
  const height = Math.ceil(laid.height ?? 100);
  const svg = el('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    width: String(width),
    height: String(height),
    'data-machine': graph.id,
  });
  const nodeLayer = el('g', { class: 'nodes' });
  const edgeLayer = el('g', { class: 'edges' });
  const labelLayer = el('g', { class: 'labels' });
  svg.append(nodeLayer, edgeLayer, labelLayer);
  /** @type {Map<string, { x: number, y: number }>} */
  const offset = new Map();

  /** @param {ElkNode} node @param {number} ox @param {number} oy */
  const drawNode = (node, ox, oy) => {
    const x = ox + (node.x ?? 0);
    const y = oy + (node.y ?? 0);
    offset.set(node.id, { x, y });
    const w = node.width ?? 0;
    const h = node.height ?? 0;
    if (node.id.endsWith(INITIAL)) {
      nodeLayer.append(el('circle', { class: 'initial', cx: x + w / 2, cy: y + h / 2, r: w / 2 }));
    } else if (node.id.endsWith(ANY)) {
      const g = el('g', { class: 'any' });
      g.append(el('rect', { x, y, width: w, height: h, rx: h / 2 }));
      g.append(text('any state', x + w / 2, y + h / 2 + 4, 'any-label'));
      nodeLayer.append(g);
    } else {
      const state = info.states.get(node.id);
      if (state) nodeLayer.append(drawState(state, info.boxes.get(node.id)?.lines ?? [], x, y, w, h));
    }
    for (const child of node.children ?? []) drawNode(child, x, y);
  };
  /** @param {ElkNode} node */
  const drawEdges = (node) => {
    const base = offset.get(node.id) ?? { x: 0, y: 0 };
    for (const edge of /** @type {ElkExtendedEdge[]} */ (node.edges ?? [])) {
      const list = info.edgeTransitions.get(edge.id) ?? [];
      const kind = list.length
        ? list.every((t) => t.kind === list[0]?.kind)
          ? list[0]?.kind
          : 'mixed'
        : 'initial';
      for (const section of edge.sections ?? []) {
        const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
        const d = points.map((p, i) => `${i ? 'L' : 'M'} ${base.x + p.x} ${base.y + p.y}`).join(' ');
        const path = el('path', { class: `edge kind-${kind}`, d, 'marker-end': 'url(#arrow)' });
        if (list.length) {
          const tip = el('title', {});
          tip.textContent = list
            .map((t) => `${transitionText(t)}${t.actions.length ? ` / ${t.actions.join(', ')}` : ''}`)
            .join('\n');
          path.append(tip);
          path.setAttribute('data-events', [...new Set(list.map((t) => t.event))].join(' '));
        }
        edgeLayer.append(path);
      }
      for (const label of edge.labels ?? []) {
        const lx = base.x + (label.x ?? 0);
        const ly = base.y + (label.y ?? 0);
        labelLayer.append(
          el('rect', {
            class: 'edge-label-bg',
            x: lx,
            y: ly,
            width: label.width ?? 0,
            height: label.height ?? 0,
          }),
        );
        (label.text ?? '').split('\n').forEach((line, i) => {
          labelLayer.append(text(line, lx + 2, ly + (i + 1) * LINE - 4, `edge-label kind-${kind}`, 'start'));
        });
      }
    }
    for (const child of node.children ?? []) drawEdges(child);
  };
  for (const child of laid.children ?? []) drawNode(child, laid.x ?? 0, laid.y ?? 0);
  offset.set(laid.id, { x: laid.x ?? 0, y: laid.y ?? 0 });
  drawEdges(laid);
  return svg;
}

/**
 * @param {GraphState} state
 * @param {{ text: string, cls: string }[]} lines
 * @param {number} x @param {number} y @param {number} w @param {number} h
 */
function drawState(state, lines, x, y, w, h) {
  const g = el('g', {
    class: `state type-${state.type}${state.path.length === 0 ? ' root' : ''}`,
    'data-path': state.path.join('.'),
    'data-id': state.id,
  });
  g.append(el('rect', { class: 'box', x, y, width: w, height: h, rx: 8 }));
  if (state.type === 'final')
    g.append(el('rect', { class: 'box-inner', x: x + 3, y: y + 3, width: w - 6, height: h - 6, rx: 6 }));
  g.append(text(state.key, x + PAD, y + LINE + 2, 'name', 'start'));
  lines.forEach((line, i) => {
    g.append(text(line.text, x + PAD, y + LINE + 6 + (i + 1) * LINE - 2, line.cls, 'start'));
  });
  if (state.description) {
    const tip = el('title', {});
    tip.textContent = state.description;
    g.append(tip);
  }
  return g;
}

/**
 * A copy of a machine's template for one actor, with its states indexed by path.
 * @param {SVGSVGElement} template
 * @returns {ChartInstance}
 */
export function instantiate(template) {
  const svg = /** @type {SVGSVGElement} */ (template.cloneNode(true));
  /** @type {Map<string, SVGGElement>} */
  const states = new Map();
  for (const g of svg.querySelectorAll('g.state')) {
    states.set(g.getAttribute('data-path') ?? '', /** @type {SVGGElement} */ (g));
  }
  return { svg, states };
}

/**
 * Every active state's path for a snapshot value: `{ failed: 'backoff' }` -> '', 'failed', 'failed.backoff'.
 * @param {unknown} value
 * @returns {Set<string>}
 */
export function activePaths(value) {
  const out = new Set(['']);
  /** @param {unknown} v @param {string} prefix */
  const walk = (v, prefix) => {
    if (typeof v === 'string') out.add(prefix ? `${prefix}.${v}` : v);
    else if (v && typeof v === 'object') {
      for (const [key, child] of Object.entries(v)) {
        const path = prefix ? `${prefix}.${key}` : key;
        out.add(path);
        walk(child, path);
      }
    }
  };
  walk(value, '');
  return out;
}

/**
 * Marks the states of `value` active in a chart.
 * @param {ChartInstance} chart
 * @param {unknown} value
 */
export function setActive(chart, value) {
  const active = activePaths(value);
  for (const [path, g] of chart.states) g.classList.toggle('active', active.has(path));
}

/**
 * @param {string} content @param {number} x @param {number} y @param {string} cls @param {string} [anchor]
 */
function text(content, x, y, cls, anchor = 'middle') {
  const t = el('text', { class: cls, x, y, 'text-anchor': anchor });
  t.textContent = content;
  return t;
}

/**
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number>} attrs
 * @returns {SVGElementTagNameMap[K]}
 */
function el(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}
