export { createLiteLlmAdmin } from './litellm-admin';
