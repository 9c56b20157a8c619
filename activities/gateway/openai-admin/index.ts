export { createOpenAiProjectAdmin } from './openai-project-admin';
