// The one way rekey POSTs to a URL a policy named (a ticket webhook, a rollout hook): the URL must be
// admitted by the allowlist (checkWebhookUrl), its host is resolved once and every address checked
// (resolveChecked), the socket connects only to those addresses (postPinned), and a redirect is refused,
// never followed. The caller says what a refusal throws: each hook has its own non-retryable failure type.
import {
  checkWebhookUrl,
  NO_WEBHOOK_TARGETS,
  type AdmittedTarget,
  type WebhookAllowlist,
} from '../../domain/webhook-targets';
import { postPinned } from './pinned-post';
import { resolveChecked, systemResolve, targetRefused, type Resolve } from './safe-lookup';

/** What a refused target, address or redirect throws; a non-retryable failure of the caller's type. */
export type Refuse = (message: string) => Error;

/** The allowlist entry that admits the URL, or refuse(why not); no allowlist admits nothing. */
export function admitTarget(
  url: string,
  allowlist: WebhookAllowlist | undefined,
  refuse: Refuse = targetRefused,
): AdmittedTarget {
  const checked = checkWebhookUrl(url, allowlist ?? NO_WEBHOOK_TARGETS);
  if ('refusal' in checked) throw refuse(checked.refusal);
  return checked.admitted;
}

export interface GuardedPost {
  /** From admitTarget. */
  target: AdmittedTarget;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** How the host is resolved; default the system resolver (dns.lookup). */
  resolve?: Resolve | undefined;
  refuse?: Refuse;
  /** The refusal of a 3xx answer, e.g. `webhook answered 307 for gate-opened`. */
  redirected: (status: number) => string;
}

/**
 * Resolves and checks the admitted target's addresses, POSTs to one of them and answers the status,
 * which is never a redirect: a 3xx would carry the body somewhere the policy did not name, and retrying
 * would only be redirected again, so it is refused.
 */
export async function postGuarded(p: GuardedPost): Promise<number> {
  const refuse = p.refuse ?? targetRefused;
  const addresses = await resolveChecked(p.target, p.resolve ?? systemResolve, refuse);
  const status = await postPinned({
    target: p.target,
    addresses,
    headers: p.headers,
    body: p.body,
    timeoutMs: p.timeoutMs,
  });
  if (status >= 300 && status < 400) throw refuse(`${p.redirected(status)}: redirects are not followed`);
  return status;
}
