// Errors as Azure Key Vault sends them: `{error: {code, message, innererror?: {code}}}`, the HTTP status
// beside. Thrown by the state and the routes, turned into a response in one place (app.ts).

/** A Key Vault error response; `innerCode` is the service's `innererror.code` (e.g. SecretDisabled). */
export class KeyVaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
  ) {
    super(message);
    this.name = 'KeyVaultError';
  }

  /** The response body the service sends. */
  body(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode ? { innererror: { code: this.innerCode } } : {}),
      },
    };
  }
}
