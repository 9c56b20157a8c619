// Everything the demo prints goes through here: to the terminal, into demo.log, and into memory, so that
// the leak check at the end can search the demo's own output for every key it made.
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Tees this process's stdout and stderr into a file and a buffer; restore() undoes it. */
export class Transcript {
  private readonly chunks: string[] = [];
  private readonly restoreFns: (() => void)[] = [];

  constructor(private readonly file: string) {}

  start(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      const tee = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        this.chunks.push(text);
        try {
          appendFileSync(this.file, text);
        } catch {
          // The folder may be gone during teardown; the terminal still gets the text.
        }
        return Reflect.apply(original, stream, [chunk, ...rest]) as boolean;
      };
      stream.write = tee;
      this.restoreFns.push(() => {
        stream.write = original;
      });
    }
  }

  restore(): void {
    for (const f of this.restoreFns.splice(0)) f();
  }

  /** All the demo printed so far. */
  text(): string {
    return this.chunks.join('');
  }
}

/** Prints a line. */
export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Prints a section heading. */
export function heading(title: string): void {
  say();
  say(`── ${title} ${'─'.repeat(Math.max(3, 76 - title.length))}`);
}

/** Prints text indented, as command output. */
export function indented(text: string, prefix = '    '): void {
  for (const line of text.replace(/\n+$/, '').split('\n')) say(line ? `${prefix}${line}` : '');
}

/** One place searched by the leak check. */
export interface ScanTarget {
  label: string;
  content: Buffer | string;
}

/** Files under `dir` (recursively) whose names match, as scan targets labelled by their relative path. */
export function filesToScan(root: string, dir: string, match: (name: string) => boolean): ScanTarget[] {
  if (!existsSync(dir)) return [];
  const out: ScanTarget[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesToScan(root, full, match));
    else if (match(name)) out.push({ label: path.relative(root, full), content: readFileSync(full) });
  }
  return out;
}

/** Where any of the values appears: labels of the targets that contain one (never the value). */
export function findLeaks(values: Iterable<string>, targets: ScanTarget[]): string[] {
  const found = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    for (const t of targets) {
      const hit =
        typeof t.content === 'string' ? t.content.includes(value) : t.content.includes(value, 0, 'utf8');
      if (hit) found.add(t.label);
    }
  }
  return [...found];
}
