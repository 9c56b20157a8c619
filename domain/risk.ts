// Texts the workflow records; kept free of zod so the workflow bundle stays small.

/** The reliability risk an emergency rotation accepts; the status and evidence state it. */
export const EMERGENCY_ACCEPTED_RISK =
  'emergency rotation: no flip approval, synthetic canary only, no drain wait; any consumer that has not reloaded the secret fails once the old key is revoked';
