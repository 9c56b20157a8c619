// Integration tests talk HTTPS to the Key Vault emulator the harness started. Node reads
// NODE_EXTRA_CA_CERTS only at process start, and a jest process may have started before global setup
// set it (a single test file runs in-band), so each test file adds the same certificates at runtime.
// Verification stays on: only the harness's own certificate file is trusted, nothing is switched off.
import { applyNodeExtraCaCerts } from '../../scripts/local-stack';

applyNodeExtraCaCerts();
