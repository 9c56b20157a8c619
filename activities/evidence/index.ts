export { createFilesystemEvidenceStore, type EvidenceReader, type StoredEvidence } from './filesystem-store';
export {
  EVIDENCE_SCHEMA_VERSION,
  checkEvidenceBundle,
  evidenceBundleSchema,
  type BundleCheck,
  type EvidenceBundle,
} from '../../domain/evidence/bundle-schema';
export { buildEvidenceBundle, type EvidenceContext, type EvidenceInput } from './build-bundle';
export { renderEvidenceMarkdown } from '../../domain/evidence/markdown';
export { verifyEvidenceStore, type EvidenceVerification } from './verify-store';
