export { createOpenRouterAdmin } from './openrouter-admin';
