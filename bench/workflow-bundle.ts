// bench/workflow-bundle: the size of the workflow bundle as shipped, and as it would be if workflow code
// reached zod (the domain's message and status schemas added to the bundle's entry). The workflow
// imports the domain's schemas as types only and checks message shapes with plain functions
// (domain/message-checks.ts); this measures what that saves. Not a test: it prints figures.
//   npx tsx bench/workflow-bundle.ts [--check]
// --check exits 1 when zod is reachable from the shipped bundle.
import { bundleWorkflowCode } from '@temporalio/worker';

const WORKFLOWS = require.resolve('../workflows');
/** What workflow code would import if its validators parsed messages with zod. */
const ZOD_ENTRIES = [require.resolve('../domain/messages'), require.resolve('../domain/status')];
const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};

interface Figures {
  /** The bundle's code without its inline source map: what each workflow context evaluates. */
  codeBytes: number;
  /** The whole bundle, inline source map included: what the worker holds. */
  totalBytes: number;
  zodModules: number;
}

async function measure(extraEntries: string[]): Promise<Figures> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS,
    logger: quietLogger,
    webpackConfigHook: (config) => ({ ...config, entry: [...(config.entry as string[]), ...extraEntries] }),
  });
  const withoutMap = code.replace(/\n\/\/# sourceMappingURL=data:[^\n]*/g, '');
  const zodModules = new Set(withoutMap.match(/node_modules\/zod\/[\w./-]+\.js/g) ?? []).size;
  return { codeBytes: Buffer.byteLength(withoutMap), totalBytes: Buffer.byteLength(code), zodModules };
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const growth = (n: number, base: number) => `${(((n - base) / base) * 100).toFixed(1)}%`;

async function main() {
  const shipped = await measure([]);
  const withZod = await measure(ZOD_ENTRIES);
  console.log(
    [
      'variant                 code (no source map)   with source map   zod modules',
      `shipped                 ${kib(shipped.codeBytes).padEnd(22)} ${kib(shipped.totalBytes).padEnd(17)} ${shipped.zodModules}`,
      `zod reachable           ${kib(withZod.codeBytes).padEnd(22)} ${kib(withZod.totalBytes).padEnd(17)} ${withZod.zodModules}`,
      `zod would add           ${growth(withZod.codeBytes, shipped.codeBytes).padEnd(22)} ${growth(withZod.totalBytes, shipped.totalBytes)}`,
    ].join('\n'),
  );
  if (process.argv.includes('--check') && shipped.zodModules > 0) {
    console.error(`zod is reachable from the workflow bundle (${shipped.zodModules} modules)`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
