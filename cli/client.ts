// A small typed client for the rekey HTTP API (/v1/rotations). No module-level state: each caller builds
// one with createApiClient({ baseUrl, token, fetch }), so tests and scripts can inject what they need.
import type { FleetApproval, FleetApprovalRecord, FleetSelector, FleetStatus } from '../domain/fleet';

export type { FleetApprovalRecord } from '../domain/fleet';
import type { ExceptionInput, Gate, Outcome, Phase, RotationStatus } from '../workflows/messages';

/** An RFC 9457 problem document as the API sends it; extra members (`running`, `registered`) are kept. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: { path: string; message: string }[];
  [extra: string]: unknown;
}

/** The API answered, and refused (4xx) or failed (5xx). */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'ApiError';
  }

  get status(): number {
    return this.problem.status;
  }
}

/** The API could not be reached, did not answer in time, or answered with something that is not the API. */
export class ApiUnreachable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiUnreachable';
  }
}

export interface StartResult {
  id: string;
  workflowId: string;
  runId: string;
  statusUrl: string;
  temporalUiUrl: string;
}

/** One row of GET /v1/rotations: what Temporal visibility knows without asking the workflow. */
export interface RotationSummary {
  id: string;
  workflowId: string;
  runId: string;
  credential: string;
  environment: string;
  changeTicket: string;
  requestedBy: string | null;
  phase: Phase | null;
  outcome: Outcome | null;
  status: string;
  startTime: string;
  closeTime: string | null;
}

/** GET /v1/rotations/:id: the summary, links, and the workflow's status query (null when no worker answered). */
export interface RotationView extends RotationSummary {
  statusUrl: string;
  temporalUiUrl: string;
  detail: RotationStatus | null;
}

export interface ListFilters {
  credential?: string;
  environment?: string;
  phase?: string;
  outcome?: string;
  limit?: number;
}

export interface ApprovalBody {
  gate: Gate;
  decision: 'approve' | 'reject';
  comment?: string;
  reason?: string;
  breakGlassReason?: string;
  /** Accepts, on record, the risk of a gate whose evidence is 'insufficient'. */
  riskReason?: string;
  exceptions?: ExceptionInput[];
}

/** What the API answers when a gate decision or an operator message is accepted. */
export interface Ack {
  id: string;
  accepted: true;
  phase: Phase;
}

/** A signed signal input (POST /v1/rotations/:id/signal-inputs). */
export interface SignalInput {
  id: string;
  workflowId: string;
  namespace: string;
  signal: string;
  input: Record<string, unknown>;
  expiresAt: string;
  command: string;
}

export interface HandOffResult {
  id: string;
  version: string;
  fingerprint: string;
  phase: Phase;
}

export type PolicyContentType = 'application/yaml' | 'application/json';

export interface ApiClientOptions {
  /** The API's origin, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …`; without one the API answers 401. */
  token?: string;
  fetch?: typeof fetch;
  /** Per request; the API bounds its own Temporal calls well below this. */
  timeoutMs?: number;
  userAgent?: string;
}

export type ApiClient = ReturnType<typeof createApiClient>;

const DEFAULT_TIMEOUT_MS = 30_000;

/** Builds a client for one API origin and token. */
export function createApiClient(opts: ApiClientOptions) {
  const doFetch = opts.fetch ?? fetch;
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const rotation = (id: string, suffix = '') => `/v1/rotations/${encodeURIComponent(id)}${suffix}`;
  const fleet = (id: string, suffix = '') => `/v1/fleets/${encodeURIComponent(id)}${suffix}`;

  async function request(
    method: string,
    path: string,
    init: { body?: string; contentType?: string; accept?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; text: string; contentType: string }> {
    const url = `${base}${path}`;
    const headers: Record<string, string> = {
      accept: init.accept ?? 'application/json',
      ...(opts.userAgent ? { 'user-agent': opts.userAgent } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(init.contentType ? { 'content-type': init.contentType } : {}),
      ...init.headers,
    };
    let res: Response;
    try {
      // Redirects are refused: following one could carry the bearer token to another host.
      res = await doFetch(url, {
        method,
        headers,
        body: init.body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new ApiUnreachable(
        `cannot reach the rekey API at ${base}: ${describeFetchError(err, timeoutMs)}`,
        {
          cause: err,
        },
      );
    }
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    if (res.status >= 400) throw new ApiError(toProblem(res.status, res.statusText, text, path));
    if (res.status >= 300) {
      throw new ApiUnreachable(`the rekey API at ${base} answered ${res.status} ${res.statusText}`);
    }
    return { status: res.status, text, contentType };
  }

  async function json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await request(
      method,
      path,
      body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' },
    );
    return { status: res.status, body: parseJson<T>(res.text, `${method} ${path}`) };
  }

  return {
    /** POST /v1/rotations: `created` is false when the same ticket's rotation was already running. */
    async start(policy: string, o: { contentType: PolicyContentType; ticket?: string }) {
      const res = await request('POST', '/v1/rotations', {
        body: policy,
        contentType: o.contentType,
        headers: o.ticket ? { 'x-change-ticket': o.ticket } : {},
      });
      return {
        created: res.status === 201,
        rotation: parseJson<StartResult>(res.text, 'POST /v1/rotations'),
      };
    },

    /** GET /v1/rotations with visibility filters. */
    async list(filters: ListFilters = {}) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, String(v));
      const qs = q.size ? `?${q.toString()}` : '';
      return (await json<{ rotations: RotationSummary[] }>('GET', `/v1/rotations${qs}`)).body;
    },

    /** GET /v1/rotations/:id. */
    async get(id: string) {
      return (await json<RotationView>('GET', rotation(id))).body;
    },

    /** POST /v1/rotations/:id/approvals: approve or reject a gate. */
    async decide(id: string, body: ApprovalBody) {
      return (await json<Ack>('POST', rotation(id, '/approvals'), body)).body;
    },

    /** POST /v1/rotations/:id/escalations: emergency mode from now on. */
    async escalate(id: string, body: { reason: string }) {
      return (await json<Ack>('POST', rotation(id, '/escalations'), body)).body;
    },
    /** POST /v1/rotations/:id/rollback. */
    async rollback(id: string, body: { reason: string }) {
      return (await json<Ack>('POST', rotation(id, '/rollback'), body)).body;
    },

    /** POST /v1/rotations/:id/abort. */
    async abort(id: string, body: { reason: string }) {
      return (await json<Ack>('POST', rotation(id, '/abort'), body)).body;
    },

    /** POST /v1/rotations/:id/hold-extensions. */
    async extendHold(id: string, body: { minutes: number; reason: string; exceptions?: ExceptionInput[] }) {
      return (await json<Ack>('POST', rotation(id, '/hold-extensions'), body)).body;
    },

    /** POST /v1/rotations/:id/revocation-confirmations (manual gateways). */
    async confirmRevocation(id: string, body: { comment?: string }) {
      return (await json<Ack>('POST', rotation(id, '/revocation-confirmations'), body)).body;
    },

    /** POST /v1/rotations/:id/replacement-key-revocations: revoke the key a rollback kept, once drained. */
    async revokeReplacementKey(id: string, body: { reason: string }) {
      return (await json<Ack>('POST', rotation(id, '/replacement-key-revocations'), body)).body;
    },

    /** POST /v1/rotations/:id/signal-inputs: a signed input for `temporal workflow signal`. */
    async signalInput(id: string, body: { message: string; args: Record<string, unknown> }) {
      return (await json<SignalInput>('POST', rotation(id, '/signal-inputs'), body)).body;
    },

    /** PUT /v1/rotations/:id/replacement-key: the key goes to the API only, which stores it in the vault. */
    async handOff(id: string, key: string) {
      return (await json<HandOffResult>('PUT', rotation(id, '/replacement-key'), { key })).body;
    },

    /** GET /v1/rotations/:id/evidence as JSON. */
    async evidence(id: string) {
      return (await json<unknown>('GET', rotation(id, '/evidence'))).body;
    },

    /** GET /v1/schedules. */
    async schedules() {
      return (await json<{ schedules: ScheduleView[] }>('GET', '/v1/schedules')).body;
    },

    /** GET /v1/schedules/:environment/:name, or POST …/pause|resume|trigger with a reason. */
    async schedule(
      environment: string,
      name: string,
      kind: 'rotation' | 'expiry',
      action?: { verb: 'pause' | 'resume' | 'trigger'; reason: string },
    ) {
      const path = `/v1/schedules/${encodeURIComponent(environment)}/${encodeURIComponent(name)}`;
      const query = `?kind=${kind}`;
      return action
        ? (await json<ScheduleView>('POST', `${path}/${action.verb}${query}`, { reason: action.reason })).body
        : (await json<ScheduleView>('GET', `${path}${query}`)).body;
    },

    /** POST /v1/schedules/sync. */
    async syncSchedules() {
      return (await json<ScheduleSyncReport>('POST', '/v1/schedules/sync')).body;
    },

    /** POST /v1/fleets: start a fleet (operator); every member's policy is validated first (422). */
    async startFleet(body: FleetStartBody) {
      return (await json<FleetStartResult>('POST', '/v1/fleets', body)).body;
    },

    /** GET /v1/fleets: the latest fleets, newest first. */
    async fleets() {
      return (await json<{ fleets: FleetListRow[] }>('GET', '/v1/fleets')).body;
    },

    /** GET /v1/fleets/:id: counts, members and approvals. */
    async fleet(id: string) {
      return (await json<FleetView>('GET', fleet(id))).body;
    },

    /** POST /v1/fleets/:id/approvals: approve a gate for every member of a fleet under one approval. */
    async approveFleet(id: string, body: { gate: Gate; comment?: string }) {
      return (await json<FleetApprovalRecord>('POST', fleet(id, '/approvals'), body)).body;
    },

    /** GET /v1/rotations/:id/evidence rendered as Markdown. */
    async evidenceMarkdown(id: string) {
      return (await request('GET', rotation(id, '/evidence'), { accept: 'text/markdown' })).text;
    },
  };
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiUnreachable(`${what} answered with something that is not JSON: ${text.slice(0, 120)}`);
  }
}

/** A problem document from an error answer, whatever shape it came in (problem+json, Fastify's default, text). */
export function toProblem(status: number, statusText: string, text: string, instance: string): Problem {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isRecord(body) && typeof body.title === 'string') {
    return { ...body, title: body.title, status: typeof body.status === 'number' ? body.status : status };
  }
  // Fastify's own answers (an unknown route, say) are {statusCode, error, message}.
  if (isRecord(body) && typeof body.message === 'string') {
    return {
      title: typeof body.error === 'string' ? body.error : statusText,
      status,
      detail: body.message,
      instance,
    };
  }
  return { title: statusText || 'Error', status, detail: text.trim().slice(0, 500) || undefined, instance };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && err.name === 'TimeoutError')
    return `no answer within ${timeoutMs / 1000}s`;
  const cause =
    err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return err instanceof Error ? err.message : String(err);
}

/** A schedule as GET /v1/schedules answers it. */
export interface ScheduleView {
  scheduleId: string;
  kind: 'rotation' | 'expiry';
  environment: string;
  credential: string;
  paused: boolean;
  note: string | null;
  workflowType: string | null;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; takenAt: string; workflowId: string }[];
  spec?: { every: string[]; calendars: number; jitterSeconds: number | null };
  policies?: { overlap: string; catchupWindowSeconds: number; pauseOnFailure: boolean };
}

/** What POST /v1/schedules/sync did. */
export interface ScheduleSyncReport {
  created: string[];
  updated: string[];
  deleted: string[];
  failed: { scheduleId: string; error: string }[];
}

/** POST /v1/fleets; what is left out takes the API's default. */
export interface FleetStartBody {
  id?: string;
  selector: FleetSelector;
  reason: string;
  approval?: FleetApproval;
  concurrency?: number;
  startsPerMinute?: number;
  pollSeconds?: number;
}

/** What POST /v1/fleets answers (201). */
export interface FleetStartResult {
  id: string;
  workflowId: string;
  runId: string;
  members: { rotationId: string; workflowId: string }[];
  statusUrl: string;
  temporalUiUrl: string;
}

/** One row of GET /v1/fleets. */
export interface FleetListRow {
  id: string;
  status: string;
  startedAt: string;
}

/** GET /v1/fleets/:id: the fleet workflow's status query, with its Temporal status and links. */
export interface FleetView extends Omit<FleetStatus, 'fleetId' | 'run'> {
  id: string;
  workflowId: string;
  /** The fleet workflow's status: RUNNING, COMPLETED, … */
  status: string;
  temporalUiUrl: string;
}
