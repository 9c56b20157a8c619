// The worker's workflowsPath: every workflow type the rotation worker runs.
export { rotation } from './rotation';
export { scheduledRotation, expiryWatch } from './scheduled-rotation';
export { fleetRotation } from './fleet';
export { pairHold } from './pair-hold';
