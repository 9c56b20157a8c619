// The few KV v2 calls rekey makes, over plain fetch: read a version (data), read the secret's metadata,
// write a version with check-and-set, merge-patch custom_metadata, delete and destroy versions. Each
// request carries the operation's signal plus a per-request timeout, the token (re-read once from the
// agent's sink on a 403), and the namespace header when the location has one. Values are parsed into
// memory and returned to the store only; nothing here logs, and errors carry statuses, never bodies.
import { isTransient, KvHttpError, kvFailure, type KvContext } from './kv-errors';
import {
  KV_BACKOFF_MS,
  KV_MAX_IN_PROCESS_RETRY_AFTER_MS,
  KV_REQUEST_ATTEMPTS,
  type KvOperation,
} from './kv-operation';
import type { TokenSource } from './token-source';

/** One version's entry in the secret's metadata. */
export interface KvVersionMetadata {
  version: number;
  createdTime: string;
  /** Empty while the version is live; a past time once deleted (a future one: scheduled deletion). */
  deletionTime: string;
  destroyed: boolean;
}

/** The secret's metadata: which versions exist and the custom_metadata map. */
export interface KvSecretMetadata {
  currentVersion: number;
  customMetadata: Record<string, string>;
  versions: Map<number, KvVersionMetadata>;
}

/** A read version: its data map and metadata; or, when not readable, the metadata of a deleted one. */
export type KvRead =
  | {
      found: true;
      data: Record<string, unknown>;
      meta: KvVersionMetadata;
      customMetadata: Record<string, string>;
    }
  | { found: false; meta?: KvVersionMetadata };

export interface KvClientOptions {
  address: string;
  namespace?: string;
  mount: string;
  /** storeLabel() of locations on this mount, for messages. */
  store: string;
  token: TokenSource;
  requestTimeoutMs: number;
}

export interface KvClient {
  readData(op: KvOperation, path: string, version: number | undefined, operation: string): Promise<KvRead>;
  readMetadata(op: KvOperation, path: string, operation: string): Promise<KvSecretMetadata | undefined>;
  /** Writes a new version if the current one is still `cas`; 'conflict' when another writer was first. */
  writeData(
    op: KvOperation,
    path: string,
    data: Record<string, unknown>,
    cas: number,
    operation: string,
  ): Promise<{ version: number; createdTime: string } | 'conflict'>;
  /** JSON merge patch of custom_metadata: a null removes the key, other keys stay as they are. */
  patchCustomMetadata(
    op: KvOperation,
    path: string,
    changes: Record<string, string | null>,
    operation: string,
  ): Promise<void>;
  /** Soft delete (undeletable) or destroy (gone for good); versions or a path already gone are fine. */
  removeVersions(
    op: KvOperation,
    path: string,
    versions: number[],
    how: 'delete' | 'destroy',
    operation: string,
  ): Promise<void>;
}

type Json = Record<string, unknown>;

function versionMeta(raw: unknown, version?: number): KvVersionMetadata {
  const m = (raw ?? {}) as Json;
  return {
    version: typeof m.version === 'number' ? m.version : (version ?? 0),
    createdTime: typeof m.created_time === 'string' ? m.created_time : '',
    deletionTime: typeof m.deletion_time === 'string' ? m.deletion_time : '',
    destroyed: m.destroyed === true,
  };
}

function stringMap(raw: unknown): Record<string, string> {
  if (!raw || typeof raw !== 'object') return {};
  return Object.fromEntries(
    Object.entries(raw as Json).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

function retryAfterOf(res: Response): number | undefined {
  const raw = res.headers.get('retry-after');
  const seconds = raw === null ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** A KV v2 client for one mount of one Vault (address + namespace). */
export function createKvClient(opts: KvClientOptions): KvClient {
  const base = `${opts.address.replace(/\/+$/, '')}/v1/${opts.mount.split('/').map(encodeURIComponent).join('/')}`;

  async function send(
    op: KvOperation,
    method: string,
    kind: 'data' | 'metadata' | 'delete' | 'destroy',
    ctx: KvContext,
    init: { query?: string; body?: unknown; contentType?: string } = {},
  ): Promise<{ status: number; json: Json }> {
    const url = `${base}/${kind}/${ctx.path.split('/').map(encodeURIComponent).join('/')}${init.query ?? ''}`;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(url, {
          method,
          headers: {
            'X-Vault-Token': opts.token.current(),
            'X-Vault-Request': 'true',
            ...(opts.namespace ? { 'X-Vault-Namespace': opts.namespace } : {}),
            ...(init.body === undefined ? {} : { 'Content-Type': init.contentType ?? 'application/json' }),
          },
          ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
          // A standby's redirect would carry the token to another host: never followed, retried instead.
          redirect: 'manual',
          signal: AbortSignal.any([op.signal, AbortSignal.timeout(opts.requestTimeoutMs)]),
        });
        const text = await res.text();
        let json: Json = {};
        try {
          json = text ? (JSON.parse(text) as Json) : {};
        } catch {
          // Not JSON (a proxy's error page): only the status is used.
        }
        if ((res.status >= 200 && res.status < 300) || res.status === 404)
          return { status: res.status, json };
        const errors = Array.isArray(json.errors) ? json.errors.map(String) : [];
        const casMismatch = res.status === 400 && errors.some((e) => e.includes('check-and-set'));
        // A 3xx (standby redirect) counts as unavailable: the active node answers after an election.
        const status = res.status >= 300 && res.status < 400 ? 503 : res.status;
        throw new KvHttpError(status, retryAfterOf(res), casMismatch);
      } catch (err) {
        const stop = op.stopped(ctx);
        if (stop) throw stop;
        // The agent may have renewed or re-authenticated since the sink was last read: once per request.
        if (err instanceof KvHttpError && err.status === 403 && !refreshed && opts.token.refresh()) {
          refreshed = true;
          attempt--;
          continue;
        }
        const wait =
          err instanceof KvHttpError && err.retryAfterSeconds !== undefined
            ? err.retryAfterSeconds * 1000
            : KV_BACKOFF_MS[Math.min(attempt - 1, KV_BACKOFF_MS.length - 1)]!;
        if (!isTransient(err) || attempt >= KV_REQUEST_ATTEMPTS || wait > KV_MAX_IN_PROCESS_RETRY_AFTER_MS)
          throw err instanceof KvHttpError && err.casMismatch ? err : kvFailure(err, ctx);
        await op.sleep(wait, ctx);
      }
    }
  }

  const ctxOf = (path: string, operation: string): KvContext => ({ store: opts.store, path, operation });

  return {
    async readData(op, path, version, operation) {
      const query = version === undefined ? '' : `?version=${version}`;
      const { status, json } = await send(op, 'GET', 'data', ctxOf(path, operation), { query });
      const body = (json.data ?? {}) as Json;
      if (status === 404)
        return body.metadata ? { found: false, meta: versionMeta(body.metadata, version) } : { found: false };
      const meta = (body.metadata ?? {}) as Json;
      return {
        found: true,
        data: body.data && typeof body.data === 'object' ? (body.data as Json) : {},
        meta: versionMeta(meta, version),
        customMetadata: stringMap(meta.custom_metadata),
      };
    },

    async readMetadata(op, path, operation) {
      const { status, json } = await send(op, 'GET', 'metadata', ctxOf(path, operation));
      if (status === 404) return undefined;
      const body = (json.data ?? {}) as Json;
      const versions = new Map<number, KvVersionMetadata>();
      for (const [v, m] of Object.entries((body.versions ?? {}) as Json))
        if (/^\d+$/.test(v)) versions.set(Number(v), versionMeta(m, Number(v)));
      return {
        currentVersion: typeof body.current_version === 'number' ? body.current_version : 0,
        customMetadata: stringMap(body.custom_metadata),
        versions,
      };
    },

    async writeData(op, path, data, cas, operation) {
      try {
        const { status, json } = await send(op, 'POST', 'data', ctxOf(path, operation), {
          body: { options: { cas }, data },
        });
        if (status === 404) throw kvFailure(new KvHttpError(404, undefined, false), ctxOf(path, operation));
        const meta = versionMeta(json.data);
        return { version: meta.version, createdTime: meta.createdTime };
      } catch (err) {
        if (err instanceof KvHttpError && err.casMismatch) return 'conflict';
        throw err;
      }
    },

    async patchCustomMetadata(op, path, changes, operation) {
      if (Object.keys(changes).length === 0) return;
      const ctx = ctxOf(path, operation);
      const { status } = await send(op, 'PATCH', 'metadata', ctx, {
        body: { custom_metadata: changes },
        contentType: 'application/merge-patch+json',
      });
      if (status !== 404) return;
      // No metadata yet (a pending path's first version): create it with what is being set.
      const set = Object.fromEntries(
        Object.entries(changes).filter((e): e is [string, string] => e[1] !== null),
      );
      if (Object.keys(set).length > 0)
        await send(op, 'POST', 'metadata', ctx, { body: { custom_metadata: set } });
    },

    async removeVersions(op, path, versions, how, operation) {
      if (versions.length === 0) return;
      await send(op, how === 'delete' ? 'POST' : 'PUT', how, ctxOf(path, operation), { body: { versions } });
    },
  };
}
