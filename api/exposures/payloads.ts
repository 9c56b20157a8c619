// The alert payloads rekey reads, and what each carries to match on (checked against the scanners' docs):
// - GitHub `secret_scanning_alert` webhook: the alert's number, html_url and secret_type, but NOT the
//   secret value (GitHub's webhook schema has no `secret`; only the REST alert API returns it). Such an
//   alert is recorded as unmatchable: rekey cannot tell whose key it is without the value.
// - GitHub secret-scanning partner program: `[{token, type, url, source}]`, the token itself; rekey
//   fingerprints it at once and drops it.
// - GitGuardian custom webhook (incident events): `incident.id`, `incident.gitguardian_url`, the
//   detector, GitGuardian's own `secret_hash` (an opaque hash rekey cannot recompute) and `hmsl_hash`
//   (the HasMySecretLeaked hash, SHA-256 hex of the secret), which rekey matches on. No raw secret.
import { z } from 'zod';
import type { ExposureSource } from '../../domain/exposures';

/** One leak an alert reports, before matching. `token` lives only until it is fingerprinted. */
export interface ReportedLeak {
  source: ExposureSource;
  alertId: string;
  url?: string;
  secretType?: string;
  token?: string;
  /** The full SHA-256 hex of the secret, when the alert carries that instead of the token. */
  sha256?: string;
  /** Why nothing in the alert can be matched. */
  unmatchable?: string;
}

const httpUrl = z.url({ protocol: /^https?$/ }).max(2000);

const githubAlertSchema = z.object({
  action: z.string().min(1).max(100),
  alert: z.object({
    number: z.number().int().nonnegative(),
    html_url: httpUrl.optional(),
    secret_type: z.string().max(200).optional(),
  }),
  repository: z.object({ full_name: z.string().min(1).max(200) }).optional(),
  organization: z.object({ login: z.string().min(1).max(200) }).optional(),
});

const partnerSchema = z
  .array(
    z.object({
      token: z.string().min(1).max(10_000),
      type: z.string().min(1).max(200),
      url: z.string().max(2000).optional(),
      source: z.string().max(100).optional(),
    }),
  )
  .min(1)
  .max(100);

const gitguardianSchema = z.object({
  action: z.string().min(1).max(100).optional(),
  incident: z
    .object({
      id: z.union([z.number().int(), z.string().min(1).max(100)]),
      gitguardian_url: httpUrl.optional(),
      detector: z.object({ name: z.string().max(200).optional() }).optional(),
      hmsl_hash: z.string().max(200).optional(),
      secret_hash: z.string().max(500).optional(),
    })
    .optional(),
});

/** A payload that is not what the scanner sends; the route answers 400 with the reason. */
export class MalformedAlert extends Error {
  override readonly name = 'MalformedAlert';
}

function json(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedAlert('the body is not JSON');
  }
}

function parse<T extends z.ZodType>(schema: T, body: Buffer, what: string): z.infer<T> {
  const parsed = schema.safeParse(json(body));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedAlert(`not a ${what}: ${issue?.path.join('.') || '(body)'}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

const validUrl = (u: string | undefined) => (u && httpUrl.safeParse(u).success ? u : undefined);

/** The leak a `secret_scanning_alert` webhook reports: never matchable (it carries no secret). */
export function githubWebhookLeak(body: Buffer): ReportedLeak & { action: string } {
  const p = parse(githubAlertSchema, body, 'secret_scanning_alert payload');
  const where = p.repository?.full_name ?? p.organization?.login ?? 'github';
  return {
    action: p.action,
    source: 'github-secret-scanning',
    alertId: `${where}#${p.alert.number}`,
    ...(p.alert.html_url ? { url: p.alert.html_url } : {}),
    ...(p.alert.secret_type ? { secretType: p.alert.secret_type } : {}),
    unmatchable:
      "GitHub's secret_scanning_alert webhook carries no secret value (only its type and the alert's URL), so it cannot be matched to a credential; enrol the gateway's key format in the secret-scanning partner program, or escalate the rotation by hand",
  };
}

/** The leaks of a partner-program payload, one per token; the alert id is the token's fingerprint hex. */
export function githubPartnerLeaks(body: Buffer): ReportedLeak[] {
  return parse(partnerSchema, body, 'secret-scanning partner payload').map((m) => ({
    source: 'github-partner',
    alertId: '',
    token: m.token,
    secretType: m.type,
    ...(validUrl(m.url) ? { url: m.url } : {}),
  }));
}

/** The leak of a GitGuardian incident event, or undefined for events about no incident. */
export function gitguardianLeak(body: Buffer): ReportedLeak | undefined {
  const p = parse(gitguardianSchema, body, 'GitGuardian webhook payload');
  if (!p.incident) return undefined;
  const hmsl = p.incident.hmsl_hash?.toLowerCase();
  const sha256 = hmsl && /^[0-9a-f]{64}$/.test(hmsl) ? hmsl : undefined;
  return {
    source: 'gitguardian',
    alertId: String(p.incident.id),
    ...(p.incident.gitguardian_url ? { url: p.incident.gitguardian_url } : {}),
    ...(p.incident.detector?.name ? { secretType: p.incident.detector.name } : {}),
    ...(sha256
      ? { sha256 }
      : {
          unmatchable:
            'the GitGuardian incident carries no hmsl_hash (SHA-256 of the secret) to match on; its secret_hash is an opaque GitGuardian hash',
        }),
  };
}
