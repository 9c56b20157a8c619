// What rekey treats as key material in free text: one rule for the workflow (messages may not carry
// it), the evidence builder (redacts it) and the evidence schema (refuses it). Zod-free, so the
// workflow bundle can import it.

/** Something shaped like an OpenAI-style API key. */
export const KEY_LIKE = /\bsk-[A-Za-z0-9_-]{16,}/;

/** Credential-shaped text to redact: API keys and bearer tokens (global, for replace). */
export const CREDENTIAL_LIKE = [new RegExp(KEY_LIKE.source, 'g'), /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi];
