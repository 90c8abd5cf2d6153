// Fastify's own route table, read from printRoutes(), so route tests cover every route the app has
// rather than a list someone has to remember to extend.
import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** As registered, with its params: `/api/masters/:phone`. */
  path: string;
}

/**
 * The registered routes, from printRoutes' radix tree: each line is one node ("├── inspector (GET, HEAD)"),
 * nested by indentation, and a route's path is its nodes joined. (The `commonPrefix: false` view is
 * lossy: it prints `/inspector/*` and `/a/:id/*` as a bare `*`.)
 */
export function routeTable(app: FastifyInstance, options: { head?: boolean } = {}): RouteEntry[] {
  const stack: string[] = [];
  const routes: RouteEntry[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(', ')) {
      if (method && (options.head || method !== 'HEAD')) routes.push({ method, path });
    }
  }
  return routes.sort((a, b) => `${a.method} ${a.path}`.localeCompare(`${b.method} ${b.path}`));
}

/** A concrete URL for a route: each `:param` and `*` replaced by `fill(name)`. */
export function concreteUrl(path: string, fill: (param: string) => string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => fill(name)).replace(/\*/g, () => fill('*'));
}
