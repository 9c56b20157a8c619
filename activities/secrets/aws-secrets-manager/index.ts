export { awsSecretsManagerBackend } from './backend';
export { AwsFailureTypes, awsFailure, type AwsContext } from './aws-errors';
export { ALLOW_HTTP_ENDPOINT_ENV, awsSettings, createSecretsManagerClient, type AwsSettings } from './client';
export {
  CONNECTION_TIMEOUT_MS,
  OPERATION_DEADLINE_MS,
  REQUEST_TIMEOUT_MS,
  SDK_MAX_ATTEMPTS,
} from './operation-budget';
export { Label as AwsStagingLabel } from './secret-io';
export { createSecretsManagerStore, type SecretsManagerStoreOptions } from './secrets-manager-store';
export { planFactWrites, type TagPlan } from './tag-plan';
export {
  decodeFacts,
  encodeFacts,
  factsKey,
  rotationTag as awsRotationTag,
  stageToken,
  TAG_LIMITS as AWS_TAG_LIMITS,
  TAG_PREFIX as AWS_TAG_PREFIX,
  type VersionFacts,
} from './version-facts';
