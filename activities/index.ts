export { createActivities, type RotationActivities } from './create-activities';
export { fingerprint } from './fingerprint';
export type * from './ports';
export type * from './types';
export { FailureTypes, type FailureType } from '../common/failures';
