// The shared SecretStore contract (test/contract/secret-store.contract.ts), once per backend, each against
// the real local server global setup started: the reference Key Vault, OpenBao's KV v2, moto's Secrets
// Manager. Adding a backend adds one line here.
import { awsSecretsManagerContract } from '../contract/aws-secrets-manager';
import { azureKeyVaultContract } from '../contract/azure-key-vault';
import { hashicorpVaultContract } from '../contract/hashicorp-vault';
import { describeSecretStoreContract } from '../contract/secret-store.contract';

describeSecretStoreContract(azureKeyVaultContract);
describeSecretStoreContract(hashicorpVaultContract);
describeSecretStoreContract(awsSecretsManagerContract);
