// How rekey authenticates to Vault: a token, either VAULT_TOKEN or the file VAULT_TOKEN_FILE names — the
// sink a Vault Agent (auto-auth with AppRole, Kubernetes, …) keeps fresh. The file is read once at start
// and again only when Vault refuses the token (the agent renewed or re-authenticated in the meantime).
// The token itself never appears in a message or a log.
import { readFileSync } from 'node:fs';

/** The token Vault requests carry, and a way to pick up a new one from the agent's sink. */
export interface TokenSource {
  /** How the token is configured, for messages: "VAULT_TOKEN" or "VAULT_TOKEN_FILE=/path". */
  readonly describe: string;
  current(): string;
  /** Re-reads the sink file; true when it now holds another token (never true for VAULT_TOKEN). */
  refresh(): boolean;
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `VAULT_TOKEN_FILE=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): is the ` +
        `Vault Agent's file sink mounted here and readable by this user?`,
      { cause: err },
    );
  }
  const token = text.trim();
  if (!token)
    throw new Error(
      `VAULT_TOKEN_FILE=${file} is empty: the Vault Agent has not authenticated yet (or its sink is wrapped)`,
    );
  return token;
}

/**
 * The token source the environment configures; VAULT_TOKEN_FILE wins over VAULT_TOKEN (the agent's sink
 * is the one that stays fresh). Throws, naming both variables, when neither is set.
 */
export function tokenSourceFrom(env: NodeJS.ProcessEnv): TokenSource {
  const file = env.VAULT_TOKEN_FILE?.trim();
  if (file) {
    let token = readToken(file);
    return {
      describe: `VAULT_TOKEN_FILE=${file}`,
      current: () => token,
      refresh() {
        try {
          const next = readToken(file);
          const changed = next !== token;
          token = next;
          return changed;
        } catch {
          // The sink is being rewritten or gone for a moment: keep the token we have.
          return false;
        }
      },
    };
  }
  const token = env.VAULT_TOKEN?.trim();
  if (token) return { describe: 'VAULT_TOKEN', current: () => token, refresh: () => false };
  throw new Error(
    'HashiCorp Vault secret store: set VAULT_TOKEN_FILE (the file sink of a Vault Agent doing auto-auth) or ' +
      'VAULT_TOKEN (a token whose policy allows the credential paths)',
  );
}
