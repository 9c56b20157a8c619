import { upsertSearchAttributes, condition, defineSignal, setHandler } from '@temporalio/workflow';
import { RotationPhaseKey } from '../../../workflows/search-attributes';

/** Lets the test move the marker to its final phase. */
export const finish = defineSignal('finish');

/** Sets RotationPhase to ARCHIVING, waits for `finish`, then sets it to COMPLETED. */
export async function phaseMarker(): Promise<void> {
  let done = false;
  setHandler(finish, () => {
    done = true;
  });
  upsertSearchAttributes([{ key: RotationPhaseKey, value: 'ARCHIVING' }]);
  await condition(() => done);
  upsertSearchAttributes([{ key: RotationPhaseKey, value: 'COMPLETED' }]);
}
