export { createPortkeyAdmin } from './portkey-admin';
