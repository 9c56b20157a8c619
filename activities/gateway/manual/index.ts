export { createManualAdmin } from './manual-admin';
