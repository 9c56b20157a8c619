// Admin APIs that never return a key's value show it masked: Portkey as `Xk*******S4`, OpenAI as
// `sk-abc...def`. rekey finds a key from its value by that mask, and only when the match is unique.

/** Whether a masked key (`Xk*******S4`, `sk-abc...def`) could be this value. */
export function maskMatches(masked: string, value: string): boolean {
  const m = /^([^*.…]*)(?:\*+|\.\.\.|…)([^*.…]*)$/.exec(masked);
  if (!m) return false;
  const [, head, tail] = m as unknown as [string, string, string];
  return value.length > head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

/** The one item whose mask matches the value; undefined when none or several do (a guess is no match). */
export function uniqueMaskMatch<T>(items: T[], maskOf: (item: T) => string, value: string): T | undefined {
  const match = items.filter((item) => maskMatches(maskOf(item), value));
  return match.length === 1 ? match[0] : undefined;
}
