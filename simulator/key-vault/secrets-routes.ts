// The secrets operations of the Azure Key Vault data plane: set, get (latest or a version), update,
// list secrets and versions, delete (soft), get/list deleted, purge and recover. Paths and bodies as in
// the public REST reference; any api-version is accepted. Backup and restore are not implemented.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { deletedSecretBundle, deletedSecretItem, secretBundle, secretItem, versionItem } from './bundles';
import { KeyVaultError } from './errors';
import { page, type PageQuery } from './paging';
import type { KeyVaultState } from './state';

// `attributes` as the SDK serializes SecretAttributes: epoch seconds; null clears nbf/exp.
const Attributes = z
  .object({
    enabled: z.boolean().optional(),
    nbf: z.number().int().nullable().optional(),
    exp: z.number().int().nullable().optional(),
  })
  .partial()
  .optional();
const Tags = z.record(z.string(), z.string()).optional();

const SetBody = z.object({
  value: z.string({ error: 'The secret value is required and must be a string.' }),
  contentType: z.string().optional(),
  tags: Tags,
  attributes: Attributes,
});
const UpdateBody = z.object({ contentType: z.string().optional(), tags: Tags, attributes: Attributes });

type NameParams = { name: string };
type VersionParams = { name: string; version?: string };

/** Parses a body; messages name the field, never echo a value. */
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? ` (${issue.path.join('.')})` : '';
    throw new KeyVaultError(400, 'BadParameter', `${issue?.message ?? 'Invalid request body'}${where}`);
  }
  return result.data;
}

/** The vault URL the client used, from which every id in a response is built. */
export function vaultBase(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

/** Registers the secrets routes over the state. */
export function registerSecretRoutes(app: FastifyInstance, state: KeyVaultState): void {
  app.put<{ Params: NameParams }>('/secrets/:name', (req) => {
    const body = parse(SetBody, req.body);
    const { secret, version } = state.set(req.params.name, body);
    return secretBundle(vaultBase(req), secret, version, state, true);
  });

  const getSecret = (req: FastifyRequest<{ Params: VersionParams }>) => {
    const { secret, version } = state.version(req.params.name, req.params.version);
    // A disabled version cannot be read; the service answers 403 with innererror SecretDisabled.
    if (!version.enabled)
      throw new KeyVaultError(
        403,
        'Forbidden',
        'Operation get is not allowed on a disabled secret.',
        'SecretDisabled',
      );
    return secretBundle(vaultBase(req), secret, version, state, true);
  };
  // The SDK asks for the latest version as `/secrets/{name}/` (an empty version segment).
  app.get<{ Params: VersionParams }>('/secrets/:name', getSecret);
  app.get<{ Params: VersionParams }>('/secrets/:name/', getSecret);
  app.get<{ Params: VersionParams }>('/secrets/:name/:version', getSecret);

  const updateSecret = (req: FastifyRequest<{ Params: VersionParams }>) => {
    const body = parse(UpdateBody, req.body);
    const { secret, version } = state.update(req.params.name, req.params.version, body);
    return secretBundle(vaultBase(req), secret, version, state, false);
  };
  app.patch<{ Params: VersionParams }>('/secrets/:name/', updateSecret);
  app.patch<{ Params: VersionParams }>('/secrets/:name/:version', updateSecret);

  app.get<{ Querystring: PageQuery }>('/secrets', (req) => {
    const base = vaultBase(req);
    const items = state.active().map((s) => secretItem(base, s, state));
    return page(items, req.query, `${base}/secrets`);
  });

  app.get<{ Params: NameParams; Querystring: PageQuery }>('/secrets/:name/versions', (req) => {
    const base = vaultBase(req);
    const secret = state.get(req.params.name);
    // The service does not list versions in creation order; neither does this emulator (by version id),
    // so that callers never come to depend on an order Key Vault does not promise.
    const versions = [...secret.versions].sort((a, b) => a.version.localeCompare(b.version));
    const items = versions.map((v) => versionItem(base, secret, v, state));
    return page(items, req.query, `${base}/secrets/${secret.name}/versions`);
  });

  app.delete<{ Params: NameParams }>('/secrets/:name', (req) => {
    const secret = state.delete(req.params.name);
    return deletedSecretBundle(vaultBase(req), secret, state);
  });

  app.get<{ Querystring: PageQuery }>('/deletedsecrets', (req) => {
    const base = vaultBase(req);
    const items = state.deleted().map((s) => deletedSecretItem(base, s, state));
    return page(items, req.query, `${base}/deletedsecrets`);
  });

  app.get<{ Params: NameParams }>('/deletedsecrets/:name', (req) =>
    deletedSecretBundle(vaultBase(req), state.getDeleted(req.params.name), state),
  );

  app.delete<{ Params: NameParams }>('/deletedsecrets/:name', async (req, reply) => {
    state.purge(req.params.name);
    return reply.code(204).send();
  });

  app.post<{ Params: NameParams }>('/deletedsecrets/:name/recover', (req) => {
    const secret = state.recover(req.params.name);
    const latest = secret.versions.at(-1);
    if (!latest) throw new KeyVaultError(500, 'InternalServerError', 'recovered secret has no versions');
    return secretBundle(vaultBase(req), secret, latest, state, false);
  });

  const notImplemented = () => {
    throw new KeyVaultError(
      501,
      'NotImplemented',
      'Backup and restore are not implemented by the reference Key Vault.',
    );
  };
  app.post('/secrets/:name/backup', notImplemented);
  app.post('/secrets/restore', notImplemented);
}
