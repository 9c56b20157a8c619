export { createActivities, type RotationActivities } from './create-activities';
export { fingerprint } from '../domain/fingerprint';
export type * from '../domain/ports';
export type { ActivityDeps } from './deps';
export type * from '../domain/activity-io';
export { FailureTypes, type FailureType } from '../domain/failure-types';
