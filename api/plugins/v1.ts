// Everything under /v1: the bearer token is checked first, before a body is parsed or validated.
import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps';
import { actionRoutes } from '../routes/actions';
import { evidenceRoutes } from '../routes/evidence';
import { exposureReadRoutes } from '../routes/exposures';
import { fleetRoutes } from '../routes/fleets';
import { rotationRoutes } from '../routes/rotations';
import { scheduleRoutes } from '../routes/schedules';
import { usageReportRoutes } from '../routes/usage-reports';

/** The versioned API: one route plugin per resource, behind the token check (registered at /v1). */
export function v1Plugin(deps: ApiDeps): FastifyPluginAsync {
  return async (v1) => {
    v1.decorateRequest('principal', null);
    // req.ip is the peer address, or the client the trusted proxies name (buildApp's trustProxy).
    v1.addHook('onRequest', async (req) => {
      req.principal = await deps.auth.authenticate(req.headers.authorization, req.ip);
    });
    await v1.register(rotationRoutes(deps));
    await v1.register(actionRoutes(deps));
    await v1.register(evidenceRoutes(deps));
    await v1.register(usageReportRoutes(deps));
    await v1.register(exposureReadRoutes(deps));
    await v1.register(scheduleRoutes(deps));
    await v1.register(fleetRoutes(deps));
  };
}
