// Business rules of a rotation as pure functions: thresholds against the baseline, the drain, the
// approval gates (roles, four-eyes, break-glass). The workflow calls them; unit tests call them directly.
import type { Thresholds } from '../domain/policy';
import type { ApproveArgs } from '../domain/messages';
import type { WindowMetrics } from '../domain/observations';
import type { Mode, Role, Signal } from '../domain/rotation';
import type { Breach } from '../domain/status';
import { invalid, notAllowed, type Refusal } from './messages';

export type { Breach } from '../domain/status';

const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);
const round = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * Lower bound of the 95 % Wilson score interval of a share: the smallest true rate that `count` of
 * `total` still makes plausible. Used on windows too small for rates, so that 9 of 9 requests
 * answered 5xx fails while 1 of 15 does not.
 */
export function wilsonLowerBound(count: number, total: number): number {
  if (total <= 0) return 0;
  const z = 1.96;
  const p = count / total;
  const z2 = z * z;
  const centre = p + z2 / (2 * total);
  const margin = z * Math.sqrt((p * (1 - p) + z2 / (4 * total)) / total);
  return Math.max(0, (centre - margin) / (1 + z2 / total));
}

/** Compares a window of new-key traffic with the old key's baseline; an empty result means healthy. */
export function evaluateThresholds(baseline: WindowMetrics, window: WindowMetrics, t: Thresholds): Breach[] {
  const breaches: Breach[] = [];
  /** A share of new-key requests with some status over its limit; returns the share. */
  const shareBreach = (check: Breach['check'], count: number, limit: number, statuses: string) => {
    const observed = share(count, window.requests);
    if (count > 0 && observed > limit) {
      breaches.push({
        check,
        observed: round(observed),
        limit,
        detail: `${count} of ${window.requests} new-key requests got ${statuses}`,
      });
    }
    return observed;
  };
  // Too few requests make rates noise; auth errors are checked on any volume since one 401 on the new
  // key means some consumer cannot authenticate.
  shareBreach('auth-errors', window.authErrors, t.max_auth_error_rate, '401/403');
  if (window.requests < t.min_requests) {
    // Too few requests for a rate, but not too few to fail: a share whose lower confidence bound is
    // already over the limit is a failure however small the window.
    const clearly = (check: Breach['check'], count: number, limit: number, statuses: string) => {
      const bound = wilsonLowerBound(count, window.requests);
      if (count > 0 && bound > limit) {
        breaches.push({
          check,
          observed: round(share(count, window.requests)),
          limit,
          detail: `${count} of ${window.requests} new-key requests got ${statuses} (a small window, but at least ${round(bound * 100)}% with 95% confidence)`,
        });
      }
    };
    clearly('rate-limited', window.rateLimited, t.max_rate_limited_rate, '429');
    clearly('server-errors', window.serverErrors, t.max_server_error_rate, '5xx');
    return breaches;
  }
  shareBreach('rate-limited', window.rateLimited, t.max_rate_limited_rate, '429');
  const serverErrors = shareBreach('server-errors', window.serverErrors, t.max_server_error_rate, '5xx');
  const increase = serverErrors - share(baseline.serverErrors, baseline.requests);
  if (serverErrors <= t.max_server_error_rate && increase > t.max_server_error_increase) {
    breaches.push({
      check: 'server-error-increase',
      observed: round(increase),
      limit: t.max_server_error_increase,
      detail: `5xx share rose by ${round(increase * 100)} points over the baseline`,
    });
  }
  const ratioBreach = (
    check: 'latency' | 'tokens' | 'spend',
    now: number,
    before: number,
    limit: number,
    unit: string,
  ) => {
    if (before <= 0 || now <= 0) return;
    const ratio = now / before;
    if (ratio > limit) {
      breaches.push({
        check,
        observed: round(ratio),
        limit,
        detail: `${unit} is ${round(ratio)}× the baseline`,
      });
    }
  };
  // A fast gateway's p95 is a few ms, where timer noise alone doubles it: a rise must also be real time.
  // Policies started before the floor existed carry none, and keep the pure ratio (replay-safe).
  // A p95 estimated from histogram buckets is only known to a bucket's width: a rise inside one is not
  // a regression. Windows recorded before sources said so carry no resolution (replay-safe).
  const resolution = Math.max(window.latencyResolutionMs ?? 0, baseline.latencyResolutionMs ?? 0);
  if (window.p95LatencyMs - baseline.p95LatencyMs > Math.max(t.min_latency_increase_ms ?? 0, resolution)) {
    ratioBreach('latency', window.p95LatencyMs, baseline.p95LatencyMs, t.max_latency_ratio, 'p95 latency');
  }
  if (baseline.requests > 0) {
    ratioBreach(
      'tokens',
      window.tokens / window.requests,
      baseline.tokens / baseline.requests,
      t.max_tokens_ratio,
      'tokens per request',
    );
    ratioBreach(
      'spend',
      window.spend / window.requests,
      baseline.spend / baseline.requests,
      t.max_spend_ratio,
      'spend per request',
    );
  }
  return breaches;
}

/**
 * Why a window's own error counts prove nothing: errors the source could not tie to any key (LiteLLM's
 * 401s labelled `hashed_api_key="None"`, failed spend-log rows with an empty `api_key`) may be this key's,
 * so its zero is only an upper bound, not evidence. Only zero unattributed errors prove zero; a nonzero
 * count makes that signal inconclusive, never a breach. Windows recorded before sources said so carry
 * no `unattributed` and are judged as before (replay-safe).
 */
export function unattributedDoubts(window: WindowMetrics, signals: readonly Signal[]): string[] {
  const doubts: string[] = [];
  const { authErrors = 0, serverErrors = 0 } = window.unattributed ?? {};
  if (signals.includes('authErrors') && authErrors > 0)
    doubts.push(
      `${authErrors} 401(s) in the window carry no key hash: the key's auth errors are only bounded`,
    );
  if (signals.includes('serverErrors') && serverErrors > 0)
    doubts.push(
      `${serverErrors} failed call(s) in the window carry no key: the key's server errors are only bounded`,
    );
  return doubts;
}

/** Who is approving a gate, as authenticated by the API (or given to the Temporal CLI). */
export type Approver = Pick<ApproveArgs, 'principal' | 'roles' | 'comment' | 'breakGlassReason'>;

/**
 * Why an approver may not decide a gate, or undefined when they may. Four-eyes: the requester never
 * approves their own rotation, except in emergency mode with a break-glass reason.
 */
export function approvalRefusal(
  approver: Approver,
  requiredRoles: readonly Role[],
  requestedBy: string,
  mode: Mode,
): Refusal | undefined {
  if (!approver.principal.trim()) return invalid('the approver has no principal');
  if (!approver.roles.some((r) => requiredRoles.includes(r))) {
    return notAllowed(`${approver.principal} lacks a required role (${requiredRoles.join(' or ')})`);
  }
  if (approver.principal === requestedBy) {
    if (mode !== 'emergency')
      return notAllowed(`four-eyes: ${approver.principal} requested this rotation and cannot approve it`);
    if (!approver.breakGlassReason?.trim()) {
      return invalid('break-glass approval by the requester must carry a reason (breakGlassReason)');
    }
  }
  return undefined;
}

/**
 * The message of an activity's last attempt as a final reason: once retries are exhausted, "; will
 * retry …" (or "will look again") no longer holds, so it is cut off.
 */
export function finalFailureMessage(message: string): string {
  return message.replace(/;\s*will (?:retry|look again)\b.*$/s, '').trim();
}
