// What each command does: read its input, call the API, print the answer (human text, or the API's JSON).
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { UsageError, type Command } from './args';
import type { ApiClient, PolicyContentType } from './client';
import { formatFleetApproval, formatFleets, formatFleetStart, formatFleetStatus } from './fleet-format';
import { formatAck, formatHandOff, formatList, formatStart, formatStatus } from './format';
import { formatSchedule, formatSchedules, formatSyncReport } from './schedule-format';

/** Where the CLI reads and writes; main passes the process's own, tests pass their own. */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Injectable for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

export interface CommandContext {
  client: ApiClient;
  io: CliIo;
  json: boolean;
  apiUrl: string;
  /** Print the message as a signed `temporal workflow signal` command instead of sending it. */
  printSignal?: boolean;
}

/** The operator pressed Ctrl-C at a prompt. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

/** Runs one parsed command against the API; API refusals surface as ApiError for main to map. */
export async function runCommand(cmd: Command, ctx: CommandContext): Promise<void> {
  const { client, io, json } = ctx;
  const out = (text: string) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const print = (body: unknown, human: () => string) => out(json ? JSON.stringify(body, null, 2) : human());

  const message = ctx.printSignal ? signalMessageOf(cmd) : undefined;
  if (message) {
    const res = await client.signalInput(message.id, { message: message.name, args: message.args });
    return void print(res, () => `${res.command}\n# signed for ${res.signal}; counts until ${res.expiresAt}`);
  }

  switch (cmd.name) {
    case 'start': {
      const policy = await readInput(cmd.file, io, 'start', 'policy');
      const res = await client.start(policy, {
        contentType: policyContentType(cmd.file),
        ticket: cmd.ticket,
      });
      return void print(res.rotation, () => formatStart(res.created, res.rotation, ctx.apiUrl));
    }
    case 'list': {
      const res = await client.list(cmd.filters);
      return void print(res, () => formatList(res.rotations));
    }
    case 'status': {
      const res = await client.get(cmd.id);
      return void print(res, () => formatStatus(res));
    }
    case 'approve': {
      const res = await client.decide(cmd.id, {
        gate: cmd.gate,
        decision: 'approve',
        comment: cmd.comment,
        breakGlassReason: cmd.breakGlassReason,
        riskReason: cmd.riskReason,
        exceptions: cmd.exceptions,
      });
      const risk = cmd.riskReason ? ', accepting the risk on record' : '';
      return void print(res, () => formatAck(`approved the ${cmd.gate} gate${risk}`, res));
    }
    case 'reject': {
      const res = await client.decide(cmd.id, { gate: cmd.gate, decision: 'reject', reason: cmd.reason });
      return void print(res, () => formatAck(`rejected the ${cmd.gate} gate`, res));
    }
    case 'rollback': {
      const res = await client.rollback(cmd.id, { reason: cmd.reason });
      return void print(res, () => formatAck('rollback accepted', res));
    }
    case 'schedules': {
      if (cmd.action === 'list') {
        const res = await client.schedules();
        return void print(res, () => formatSchedules(res.schedules));
      }
      if (cmd.action === 'sync') {
        const res = await client.syncSchedules();
        return void print(res, () => formatSyncReport(res));
      }
      const { environment = '', credential = '' } = cmd;
      const res =
        cmd.action === 'show'
          ? await client.schedule(environment, credential, cmd.kind)
          : await client.schedule(environment, credential, cmd.kind, {
              verb: cmd.action,
              reason: cmd.reason ?? '',
            });
      const done = {
        show: '',
        pause: 'paused',
        resume: 'resumed',
        trigger: 'fired now (its trigger starts)',
      }[cmd.action];
      return void print(res, () => (done ? `${res.scheduleId}: ${done}\n` : '') + formatSchedule(res));
    }
    case 'fleet': {
      switch (cmd.action) {
        case 'start': {
          const { name: _n, action: _a, ...body } = cmd;
          const res = await client.startFleet(body);
          return void print(res, () => formatFleetStart(res, ctx.apiUrl));
        }
        case 'list': {
          const res = await client.fleets();
          return void print(res, () => formatFleets(res.fleets));
        }
        case 'status': {
          const res = await client.fleet(cmd.id);
          return void print(res, () => formatFleetStatus(res));
        }
        case 'approve': {
          const res = await client.approveFleet(cmd.id, { gate: cmd.gate, comment: cmd.comment });
          return void print(res, () => formatFleetApproval(cmd.id, res));
        }
      }
      return;
    }
    case 'escalate': {
      const res = await client.escalate(cmd.id, { reason: cmd.reason });
      return void print(res, () => formatAck('escalated to emergency', res));
    }
    case 'abort': {
      const res = await client.abort(cmd.id, { reason: cmd.reason });
      return void print(res, () => formatAck('abort accepted', res));
    }
    case 'extend-hold': {
      const res = await client.extendHold(cmd.id, {
        minutes: cmd.minutes,
        reason: cmd.reason,
        exceptions: cmd.exceptions,
      });
      return void print(res, () => formatAck(`hold extended by ${cmd.minutes} min`, res));
    }
    case 'confirm-revocation': {
      const res = await client.confirmRevocation(cmd.id, { comment: cmd.comment });
      return void print(res, () => formatAck('revocation confirmed', res));
    }
    case 'revoke-replacement-key': {
      const res = await client.revokeReplacementKey(cmd.id, { reason: cmd.reason });
      return void print(res, () => formatAck('replacement key revocation accepted', res));
    }
    case 'hand-off': {
      const key = await readKey(cmd.keyFile, io);
      const res = await client.handOff(cmd.id, key);
      return void print(res, () => formatHandOff(res));
    }
    case 'evidence': {
      if (cmd.markdown && json) throw new UsageError('--markdown and --json exclude each other', 'evidence');
      if (cmd.markdown) return void out(await client.evidenceMarkdown(cmd.id));
      const res = await client.evidence(cmd.id);
      // The bundle is a document for auditors: its JSON is the human output too.
      return void out(JSON.stringify(res, null, 2));
    }
  }
}

/** YAML unless the file name says JSON; stdin is sent as YAML, which parses JSON as well. */
export function policyContentType(file: string): PolicyContentType {
  return /\.json$/i.test(file) ? 'application/json' : 'application/yaml';
}

async function readInput(file: string, io: CliIo, command: 'start' | 'hand-off', what: string) {
  if (file === '-') {
    if (io.stdin.isTTY) io.stderr.write(`reading the ${what} from the terminal; end it with Ctrl-D\n`);
    return readStream(io.stdin);
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`cannot read the ${what} file ${file}: ${code}`, command);
  }
}

/**
 * The replacement key, from a file or stdin, never argv (argv lands in shell history and `ps`). A
 * terminal gets a prompt without echo. Exactly one non-empty line is accepted, so a wrong file (a
 * policy, a key list) is refused here instead of being stored as the key.
 */
export async function readKey(file: string, io: CliIo): Promise<string> {
  const raw =
    file === '-' && io.stdin.isTTY ? await promptHidden(io) : await readInput(file, io, 'hand-off', 'key');
  const key = raw.trim();
  if (!key) throw new UsageError(`no key in ${file === '-' ? 'stdin' : file}`, 'hand-off');
  if (/\s/.test(key)) {
    throw new UsageError(
      `${file === '-' ? 'stdin' : file} must hold exactly one key, without spaces or line breaks`,
      'hand-off',
    );
  }
  return key;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from a terminal without echoing it. */
async function promptHidden(io: CliIo): Promise<string> {
  io.stderr.write('replacement key (input hidden, Enter to send): ');
  // readline echoes through `output`; a sink that drops everything keeps the key off the screen.
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: io.stdin, output: sink, terminal: true });
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.on('SIGINT', () => reject(new Cancelled()));
      rl.on('close', () => reject(new Cancelled()));
      rl.question('', resolve);
    });
  } finally {
    rl.close();
    io.stderr.write('\n');
  }
}

/** A message command as the signal it sends and its arguments (what the API signs), or undefined. */
export function signalMessageOf(
  cmd: Command,
): { id: string; name: string; args: Record<string, unknown> } | undefined {
  const args = (fields: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  switch (cmd.name) {
    case 'approve': {
      const { name: _n, id, ...rest } = cmd;
      return { id, name: 'approve', args: args(rest) };
    }
    case 'reject':
      return { id: cmd.id, name: 'reject', args: { gate: cmd.gate, reason: cmd.reason } };
    case 'rollback':
    case 'abort':
      return { id: cmd.id, name: cmd.name, args: { reason: cmd.reason } };
    case 'revoke-replacement-key':
      return { id: cmd.id, name: 'revokeReplacementKey', args: { reason: cmd.reason } };
    case 'escalate':
      return { id: cmd.id, name: 'escalate', args: { reason: cmd.reason } };
    case 'extend-hold':
      return {
        id: cmd.id,
        name: 'extendHold',
        args: args({ minutes: cmd.minutes, reason: cmd.reason, exceptions: cmd.exceptions }),
      };
    case 'confirm-revocation':
      return { id: cmd.id, name: 'revocationConfirmed', args: args({ comment: cmd.comment }) };
    default:
      return undefined;
  }
}
