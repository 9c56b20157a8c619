export * from './azure-key-vault';
export { createSecretStoreResolver, type SecretStoreResolverOptions } from './store-resolver';
