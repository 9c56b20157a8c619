// Plugins whose hooks, parsers and handlers must reach every route, not only their own children.
import type { FastifyPluginAsync } from 'fastify';

/**
 * Marks a plugin to run in the scope it is registered in (the root) instead of a child scope: what
 * fastify-plugin does, through the `skip-override` property Fastify documents for it (Reference/
 * Plugins.md, "Handle the scope"). fastify-plugin is not a dependency of rekey; this is the one place
 * to swap it in.
 */
export function rootScoped<Options extends Record<string, unknown>>(
  plugin: FastifyPluginAsync<Options>,
): FastifyPluginAsync<Options> {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
