export { createFilesystemEvidenceStore, type EvidenceReader, type StoredEvidence } from './filesystem-store';
