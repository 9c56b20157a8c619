// Paired credentials (issue 16 item 1): two credentials of one environment that share consumers are
// never flipped and held at the same time, so a consumer's errors during a hold belong to one key.
// Each pair is a workflow `rekey-pair-hold:<env>:<a>+<b>` (names sorted): the rotation that starts it
// holds the pair until it signals release. Temporal refuses a second start of a running id, which makes
// the start an atomic take. A rotation takes all of its pairs or none (it releases what it took and
// waits), always in the same order, so two rotations never wait on each other. A lease ends a hold
// whose holder vanished (a terminated rotation) without its release.
import {
  condition,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';

/** Who holds a pair, and for how long at most. */
export interface PairHoldArgs {
  /** The holding rotation's id: only it can release the pair. */
  holder: string;
  environment: string;
  credential: string;
  pairedWith: string;
  leaseMs: number;
}

export const releasePairHoldSignal = defineSignal<[{ holder: string }]>('releasePairHold');
export const pairHoldQuery = defineQuery<PairHoldArgs>('pairHold');

/** Added to a hold's lease past the max hold: the flip before it, a check running late. */
export const PAIR_HOLD_LEASE_MARGIN_MS = 60 * 60 * 1000;

/** The pair's workflow id: the same from either side. */
export function pairHoldId(environment: string, a: string, b: string): string {
  const [x, y] = [a, b].sort();
  return `rekey-pair-hold:${environment}:${x}+${y}`;
}

/** The pair a hold id names, other than `self`. */
export function otherOfPair(id: string, self: string): string {
  const pair = id.slice(id.lastIndexOf(':') + 1).split('+');
  return pair.find((n) => n !== self) ?? self;
}

/** The pair held: ends on its holder's release, or when the lease runs out. */
export async function pairHold(args: PairHoldArgs): Promise<void> {
  let released = false;
  setHandler(releasePairHoldSignal, ({ holder }) => {
    if (holder === args.holder) released = true;
  });
  setHandler(pairHoldQuery, () => args);
  if (!(await condition(() => released, args.leaseMs))) {
    log.warn('pair hold lease ran out before its holder released it', { ...args });
  }
}

/**
 * Takes every pair in `ids` that `held` does not hold yet, in sorted order, adding each to `held`.
 * Returns the first pair another rotation holds (then `held` keeps what was taken: release it), or
 * undefined once all are held.
 */
export async function takePairs(
  ids: string[],
  held: string[],
  args: (id: string) => PairHoldArgs,
): Promise<string | undefined> {
  for (const id of [...ids].sort()) {
    if (held.includes(id)) continue;
    try {
      await startChild(pairHold, {
        workflowId: id,
        args: [args(id)],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `pair held by rotation ${args(id).holder}`,
      });
      held.push(id);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return id;
      throw err;
    }
  }
  return undefined;
}

/** Releases every pair in `held` (emptied); a pair whose hold already ended is released already. */
export async function releasePairs(held: string[], holder: string): Promise<void> {
  const ids = held.splice(0);
  await Promise.all(
    ids.map(async (id) => {
      try {
        await getExternalWorkflowHandle(id).signal(releasePairHoldSignal, { holder });
      } catch (err) {
        log.info('pair hold already ended', { id, error: String(err) });
      }
    }),
  );
}
