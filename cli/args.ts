// The command line: one spec per command drives both parsing (node:util parseArgs, strict) and help.
// The token is read from REKEY_TOKEN only, never from a flag: flags show up in `ps` and shell history.
import { parseArgs } from 'node:util';
import {
  FLEET_APPROVALS,
  FleetSelectorError,
  isFleetId,
  parseSelector,
  selectorIsEmpty,
  type FleetApproval,
  type FleetSelector,
} from '../domain/fleet';
import { PHASES, type ExceptionInput, type Gate, type Outcome } from '../workflows/messages';
import type { ListFilters } from './client';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

const GATES = ['flip', 'revoke'] as const satisfies readonly Gate[];
const OUTCOMES = ['completed', 'rolled_back', 'aborted', 'failed'] as const satisfies readonly Outcome[];
// Fails to compile when workflows/messages gains an outcome this list lacks.
const everyOutcome: Exclude<Outcome, (typeof OUTCOMES)[number]> extends never ? true : never = true;
void everyOutcome;
const MAX_LIST_LIMIT = 200;

/** A command line rekey cannot run; main prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Command =
  | { name: 'start'; file: string; ticket?: string }
  | { name: 'list'; filters: ListFilters }
  | { name: 'status'; id: string }
  | {
      name: 'approve';
      id: string;
      gate: Gate;
      comment?: string;
      breakGlassReason?: string;
      riskReason?: string;
      exceptions?: ExceptionInput[];
    }
  | { name: 'reject'; id: string; gate: Gate; reason: string }
  | { name: 'rollback'; id: string; reason: string }
  | { name: 'escalate'; id: string; reason: string }
  | { name: 'abort'; id: string; reason: string }
  | { name: 'extend-hold'; id: string; minutes: number; reason: string; exceptions?: ExceptionInput[] }
  | { name: 'confirm-revocation'; id: string; comment?: string }
  | { name: 'revoke-replacement-key'; id: string; reason: string }
  | { name: 'hand-off'; id: string; keyFile: string; insecureHttp: boolean }
  | { name: 'evidence'; id: string; markdown: boolean }
  | {
      name: 'schedules';
      action: ScheduleAction;
      environment?: string;
      credential?: string;
      kind: 'rotation' | 'expiry';
      reason?: string;
    }
  | FleetCommand;
export const SCHEDULE_ACTIONS = ['list', 'show', 'pause', 'resume', 'trigger', 'sync'] as const;
export type ScheduleAction = (typeof SCHEDULE_ACTIONS)[number];
export const FLEET_ACTIONS = ['start', 'status', 'list', 'approve'] as const;
export type FleetAction = (typeof FLEET_ACTIONS)[number];
/** `rekey fleet …`: many registered credentials rotated under one fleet workflow. */
export type FleetCommand =
  | {
      name: 'fleet';
      action: 'start';
      selector: FleetSelector;
      reason: string;
      /** Unset: the API's default (fleet). */
      approval?: FleetApproval;
      concurrency?: number;
      startsPerMinute?: number;
      id?: string;
    }
  | { name: 'fleet'; action: 'status'; id: string }
  | { name: 'fleet'; action: 'list' }
  | { name: 'fleet'; action: 'approve'; id: string; gate: Gate; comment?: string };
export type CommandName = Command['name'];

/** What a command line asks for: run a command, or print help or the version. */
export type Invocation =
  | { kind: 'run'; command: Command; api: string; json: boolean; printSignal: boolean }
  | { kind: 'help'; command?: CommandName }
  | { kind: 'version' };

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given more than once; parsed as a list. */
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `<file>`. */
  value?: string;
  help: string;
}

interface CommandSpec {
  /** Positional synopsis, e.g. `<id>`. */
  args: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** Builds the command from parsed values; throws UsageError on a bad combination. */
  build(v: Values, positionals: string[]): Command;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const GLOBAL_OPTIONS = {
  api: {
    type: 'string',
    value: '<url>',
    help: `API base URL (default: $REKEY_API_URL, else ${DEFAULT_API_URL})`,
  },
  json: { type: 'boolean', help: "print the API's JSON answer (errors: the problem+json, on stderr)" },
  help: { type: 'boolean', short: 'h', help: 'show help' },
  version: { type: 'boolean', help: 'print the version' },
} as const satisfies Record<string, OptionSpec>;

/** The commands that send a rotation a message, and so may print it as a signed signal instead. */
export const MESSAGE_COMMANDS: readonly CommandName[] = [
  'approve',
  'reject',
  'rollback',
  'escalate',
  'abort',
  'extend-hold',
  'confirm-revocation',
  'revoke-replacement-key',
];
const PRINT_SIGNAL_OPTION = {
  'print-signal': {
    type: 'boolean',
    help: 'send nothing: print a signed `temporal workflow signal` command for this message (valid 15 minutes)',
  },
} as const satisfies Record<string, OptionSpec>;

const ID = '<id>';
const reasonOpt = (what: string): OptionSpec => ({ type: 'string', value: '<text>', help: `why (${what})` });
const gateOpt: OptionSpec = { type: 'string', value: 'revoke|flip', help: 'the gate to decide' };
const exceptionOpt: OptionSpec = {
  type: 'string',
  multiple: true,
  value: '<exception>',
  help: 'consumer=<app>,owner=<who>,expires=<ISO date>,control=<text>: a consumer still on the old key, accepted on record (repeatable)',
};

const FLEET_SELECTOR_FIELDS = 'environment=, owner=, tag=, reader=, names=a+b+c';
// The API's bounds (api/routes/fleets.ts), checked here so a typo fails before anything is sent.
const FLEET_CONCURRENCY = { min: 1, max: 100 } as const;
const FLEET_STARTS_PER_MINUTE = { min: 0, max: 600 } as const;
/** The options each fleet action takes; any other is refused rather than silently ignored. */
const FLEET_ACTION_OPTIONS: Record<FleetAction, readonly string[]> = {
  start: ['selector', 'reason', 'approval', 'concurrency', 'starts-per-minute', 'id'],
  status: [],
  list: [],
  approve: ['gate', 'comment'],
};
const FLEET_OPTIONS = [...new Set(Object.values(FLEET_ACTION_OPTIONS).flat())];

export const COMMANDS: Record<CommandName, CommandSpec> = {
  start: {
    args: '',
    summary: 'start a rotation from a policy file (idempotent by change ticket)',
    options: {
      file: {
        type: 'string',
        short: 'f',
        value: '<file>',
        help: 'the rotation policy: YAML, or JSON when the name ends in .json; - reads stdin (YAML or JSON)',
      },
      ticket: {
        type: 'string',
        value: '<id>',
        help: 'the change ticket (X-Change-Ticket), when the policy has no rotation.change_ticket.id',
      },
    },
    build: (v, p) => {
      noPositionals('start', p);
      return { name: 'start', file: required('start', v, 'file'), ticket: optional(v, 'ticket') };
    },
  },
  list: {
    args: '',
    summary: 'list rotations from Temporal visibility',
    options: {
      credential: { type: 'string', value: '<name>', help: 'only this credential' },
      environment: { type: 'string', value: '<name>', help: 'only this environment' },
      phase: {
        type: 'string',
        value: '<phase>',
        help: 'only this phase, e.g. HOLDING or AWAITING_REVOKE_APPROVAL',
      },
      outcome: { type: 'string', value: '<outcome>', help: `only this outcome: ${OUTCOMES.join(', ')}` },
      limit: { type: 'string', value: '<n>', help: `at most n rows (1-${MAX_LIST_LIMIT}, default 50)` },
    },
    build: (v, p) => {
      noPositionals('list', p);
      const phase = optional(v, 'phase')?.toUpperCase();
      if (phase !== undefined) oneOf('list', 'phase', phase, PHASES);
      const outcome = optional(v, 'outcome')?.toLowerCase();
      if (outcome !== undefined) oneOf('list', 'outcome', outcome, OUTCOMES);
      const limitText = optional(v, 'limit');
      const limit =
        limitText === undefined ? undefined : integer('list', 'limit', limitText, 1, MAX_LIST_LIMIT);
      const filters: ListFilters = {
        credential: optional(v, 'credential'),
        environment: optional(v, 'environment'),
        phase,
        outcome,
        limit,
      };
      return { name: 'list', filters };
    },
  },
  status: {
    args: ID,
    summary: 'show a rotation: phase, pending gate, versions, timeline',
    options: {},
    build: (_v, p) => ({ name: 'status', id: id('status', p) }),
  },
  approve: {
    args: ID,
    summary: 'approve the open flip or revoke gate',
    options: {
      gate: gateOpt,
      comment: { type: 'string', value: '<text>', help: 'recorded with the approval' },
      'break-glass-reason': {
        type: 'string',
        value: '<text>',
        help: 'emergency mode only: lets the requester approve their own rotation',
      },
      'accept-risk': {
        type: 'string',
        value: '<reason>',
        help: "accept, on record, a gate whose evidence is 'insufficient' (required to approve one)",
      },
      exception: exceptionOpt,
    },
    build: (v, p) => ({
      name: 'approve',
      id: id('approve', p),
      gate: gate('approve', v),
      comment: optional(v, 'comment'),
      breakGlassReason: optional(v, 'break-glass-reason'),
      riskReason: nonBlank('approve', v, 'accept-risk'),
      exceptions: exceptions('approve', v),
    }),
  },
  reject: {
    args: ID,
    summary: 'reject the open flip or revoke gate (the rotation rolls back)',
    options: { gate: gateOpt, reason: reasonOpt('required') },
    build: (v, p) => ({
      name: 'reject',
      id: id('reject', p),
      gate: gate('reject', v),
      reason: required('reject', v, 'reason'),
    }),
  },
  rollback: {
    args: ID,
    summary: 'roll back to the old key (refused once revocation started)',
    options: { reason: reasonOpt('required') },
    build: (v, p) => ({ name: 'rollback', id: id('rollback', p), reason: required('rollback', v, 'reason') }),
  },
  escalate: {
    args: ID,
    summary: 'switch a running rotation to emergency mode (the key may be exposed)',
    options: { reason: reasonOpt('required') },
    build: (v, p) => ({ name: 'escalate', id: id('escalate', p), reason: required('escalate', v, 'reason') }),
  },
  abort: {
    args: ID,
    summary: 'stop a rotation before the flip (after it, use rollback)',
    options: { reason: reasonOpt('required') },
    build: (v, p) => ({ name: 'abort', id: id('abort', p), reason: required('abort', v, 'reason') }),
  },
  'extend-hold': {
    args: ID,
    summary: 'lengthen the hold (HOLDING, or a hold that ran out with exceptions)',
    options: {
      minutes: { type: 'string', value: '<n>', help: 'minutes to add (a positive integer)' },
      reason: reasonOpt('required'),
      exception: exceptionOpt,
    },
    build: (v, p) => ({
      name: 'extend-hold',
      id: id('extend-hold', p),
      minutes: integer('extend-hold', 'minutes', required('extend-hold', v, 'minutes'), 1),
      reason: required('extend-hold', v, 'reason'),
      exceptions: exceptions('extend-hold', v),
    }),
  },
  'confirm-revocation': {
    args: ID,
    summary: 'manual gateways: confirm the old key was revoked at the gateway',
    options: { comment: { type: 'string', value: '<text>', help: 'recorded with the confirmation' } },
    build: (v, p) => ({
      name: 'confirm-revocation',
      id: id('confirm-revocation', p),
      comment: optional(v, 'comment'),
    }),
  },
  'revoke-replacement-key': {
    args: ID,
    summary: 'after a rollback that kept the replacement key: revoke it once its traffic has drained',
    options: { reason: reasonOpt('required') },
    build: (v, p) => ({
      name: 'revoke-replacement-key',
      id: id('revoke-replacement-key', p),
      reason: required('revoke-replacement-key', v, 'reason'),
    }),
  },
  'hand-off': {
    args: ID,
    summary: 'manual gateways: hand the replacement key to rekey (stored in the vault, never shown)',
    options: {
      'key-file': {
        type: 'string',
        value: '<file>|-',
        help: 'file holding the new key, or - for stdin (never pass a key as an argument)',
      },
      'insecure-http': {
        type: 'boolean',
        help: 'allow sending the key over plain http to a host that is not this machine',
      },
    },
    build: (v, p) => ({
      name: 'hand-off',
      id: id('hand-off', p),
      keyFile: required('hand-off', v, 'key-file'),
      insecureHttp: v['insecure-http'] === true,
    }),
  },
  evidence: {
    args: ID,
    summary: 'print the evidence bundle (JSON, or Markdown)',
    options: { markdown: { type: 'boolean', help: 'the Markdown rendering instead of JSON' } },
    build: (v, p) => ({ name: 'evidence', id: id('evidence', p), markdown: v.markdown === true }),
  },
  schedules: {
    args: '<list|show|pause|resume|trigger|sync> [<environment>:<credential>]',
    summary: 'the Temporal Schedules that start rotations (registry schedule: and expiry:)',
    options: {
      kind: { type: 'string', value: 'rotation|expiry', help: 'which schedule (default rotation)' },
      reason: { type: 'string', value: '<text>', help: 'why (required to pause, resume or trigger)' },
    },
    build: (v, p) => {
      const [actionText, target, ...extra] = p;
      if (actionText === undefined) throw new UsageError('the schedules action is missing', 'schedules');
      const action = oneOf('schedules', 'action', actionText, SCHEDULE_ACTIONS);
      const kind = oneOf('schedules', 'kind', optional(v, 'kind') ?? 'rotation', [
        'rotation',
        'expiry',
      ] as const);
      if (extra.length) throw new UsageError(`unexpected argument: ${extra.join(' ')}`, 'schedules');
      if (action === 'list' || action === 'sync') {
        if (target !== undefined) throw new UsageError(`unexpected argument: ${target}`, 'schedules');
        return { name: 'schedules', action, kind };
      }
      const m = target === undefined ? null : /^([^:\s]+):([^:\s]+)$/.exec(target);
      if (!m) {
        throw new UsageError(
          `schedules ${action} needs <environment>:<credential>, e.g. production:router-key`,
          'schedules',
        );
      }
      const reason = action === 'show' ? undefined : required('schedules', v, 'reason');
      return {
        name: 'schedules',
        action,
        environment: m[1]!,
        credential: m[2]!,
        kind,
        ...(reason ? { reason } : {}),
      };
    },
  },
  fleet: {
    args: '<start|status|list|approve> [<fleet-id>]',
    summary: 'rotate many registered credentials at once, by selector, under one fleet workflow',
    options: {
      selector: {
        type: 'string',
        multiple: true,
        value: '<field=value>',
        help: `start: which credentials, ${FLEET_SELECTOR_FIELDS}; terms joined by "," or repeated (required)`,
      },
      reason: { type: 'string', value: '<text>', help: 'start: why (required)' },
      approval: {
        type: 'string',
        value: 'fleet|per-rotation',
        help: 'start: fleet, one approval per gate for every member (default); per-rotation, each on its own',
      },
      concurrency: {
        type: 'string',
        value: '<n>',
        help: `start: members working at once (${FLEET_CONCURRENCY.min}-${FLEET_CONCURRENCY.max}, default 10)`,
      },
      'starts-per-minute': {
        type: 'string',
        value: '<n>',
        help: `start: at most n member starts a minute (${FLEET_STARTS_PER_MINUTE.min}-${FLEET_STARTS_PER_MINUTE.max}, 0 no spacing, default 30)`,
      },
      id: {
        type: 'string',
        value: '<fleet-id>',
        help: 'start: the fleet id (default: made from the time); a second start with it is refused',
      },
      gate: { type: 'string', value: 'revoke|flip', help: 'approve: the gate to approve for every member' },
      comment: { type: 'string', value: '<text>', help: 'approve: recorded with the approval' },
    },
    build: (v, p) => {
      const [actionText, target, ...extra] = p;
      if (actionText === undefined) throw new UsageError('the fleet action is missing', 'fleet');
      const action = oneOf('fleet', 'action', actionText, FLEET_ACTIONS);
      if (extra.length) throw new UsageError(`unexpected argument: ${extra.join(' ')}`, 'fleet');
      onlyOptions(v, action, FLEET_ACTION_OPTIONS[action]);
      if (action === 'start' || action === 'list') {
        if (target !== undefined) throw new UsageError(`unexpected argument: ${target}`, 'fleet');
      } else if (target === undefined) {
        throw new UsageError(`fleet ${action} needs the fleet id`, 'fleet');
      }
      switch (action) {
        case 'list':
          return { name: 'fleet', action };
        case 'status':
          return { name: 'fleet', action, id: target! };
        case 'approve': {
          const comment = nonBlank('fleet', v, 'comment');
          return {
            name: 'fleet',
            action,
            id: target!,
            gate: gate('fleet', v),
            ...(comment ? { comment } : {}),
          };
        }
        case 'start': {
          const selector = fleetSelector(v);
          const reason = required('fleet', v, 'reason');
          const approvalText = optional(v, 'approval');
          const approval =
            approvalText === undefined
              ? undefined
              : oneOf('fleet', 'approval', approvalText, FLEET_APPROVALS);
          const concurrency = optionalInteger(v, 'concurrency', FLEET_CONCURRENCY);
          const startsPerMinute = optionalInteger(v, 'starts-per-minute', FLEET_STARTS_PER_MINUTE);
          const id = nonBlank('fleet', v, 'id');
          if (id !== undefined && !isFleetId(id)) {
            throw new UsageError(
              `--id must be letters, digits, ".", "_" and "-" (at most 100, starting with a letter or digit); got ${id}`,
              'fleet',
            );
          }
          return {
            name: 'fleet',
            action,
            selector,
            reason,
            ...(approval ? { approval } : {}),
            ...(concurrency === undefined ? {} : { concurrency }),
            ...(startsPerMinute === undefined ? {} : { startsPerMinute }),
            ...(id ? { id } : {}),
          };
        }
      }
    },
  },
};

function optionalInteger(v: Values, name: string, range: { min: number; max: number }): number | undefined {
  const text = optional(v, name);
  return text === undefined ? undefined : integer('fleet', name, text, range.min, range.max);
}

function onlyOptions(v: Values, action: FleetAction, allowed: readonly string[]): void {
  const misplaced = FLEET_OPTIONS.filter((o) => v[o] !== undefined && !allowed.includes(o));
  if (misplaced.length) {
    throw new UsageError(`fleet ${action} takes no ${misplaced.map((o) => `--${o}`).join(', ')}`, 'fleet');
  }
}

/** Every `--selector` given, as one selector (domain/fleet parseSelector); a bad term is a usage error. */
function fleetSelector(v: Values): FleetSelector {
  const given = v.selector;
  const terms = (Array.isArray(given) ? given : given === undefined ? [] : [given]).map(String);
  if (terms.length === 0) throw new UsageError('--selector is required', 'fleet');
  let selector: FleetSelector;
  try {
    selector = parseSelector(terms);
  } catch (err) {
    if (err instanceof FleetSelectorError) throw new UsageError(`--selector: ${err.message}`, 'fleet');
    throw err;
  }
  if (selector.names?.length === 0) throw new UsageError('--selector: names= lists no name', 'fleet');
  if (selectorIsEmpty(selector))
    throw new UsageError('--selector: a selector needs at least one field', 'fleet');
  return selector;
}

const isCommand = (s: string): s is CommandName => Object.hasOwn(COMMANDS, s);

/** Turns argv (without node and the script) into what to do; throws UsageError. */
export function parseCommandLine(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Invocation {
  const at = commandIndex(argv);
  const name = at === -1 ? undefined : argv[at];
  const rest = at === -1 ? [...argv] : [...argv.slice(0, at), ...argv.slice(at + 1)];
  const terminator = rest.indexOf('--');
  const flags = terminator === -1 ? rest : rest.slice(0, terminator);

  if (name === 'help') {
    const topic = rest.find((a) => !a.startsWith('-'));
    if (topic !== undefined && !isCommand(topic)) throw new UsageError(`unknown command: ${topic}`);
    return { kind: 'help', command: topic };
  }
  if (name !== undefined && !isCommand(name)) throw new UsageError(`unknown command: ${name}`);
  // Help wins over everything else on the line, so `rekey approve --help` works before the flags are right.
  if (flags.includes('--help') || flags.includes('-h')) return { kind: 'help', command: name };
  if (name === undefined) {
    if (flags.includes('--version')) return { kind: 'version' };
    throw new UsageError(argv.length ? `no command in: ${argv.join(' ')}` : 'no command given');
  }

  const spec = COMMANDS[name];
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        ...GLOBAL_OPTIONS,
        ...spec.options,
        ...(MESSAGE_COMMANDS.includes(name) ? PRINT_SIGNAL_OPTION : {}),
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(firstLine((err as Error).message), name);
  }
  if (parsed.values.version === true) return { kind: 'version' };
  const command = spec.build(parsed.values, parsed.positionals);
  const api = optional(parsed.values, 'api') ?? (env.REKEY_API_URL || DEFAULT_API_URL);
  return {
    kind: 'run',
    command,
    api: apiUrl(api, name),
    json: parsed.values.json === true,
    printSignal: parsed.values['print-signal'] === true,
  };
}

/** Where the command name is: the first argument that is neither a global option nor its value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (a === '--api') {
      i++;
      continue;
    }
    if (a.startsWith('--api=') || ['--json', '--help', '-h', '--version'].includes(a)) continue;
    if (a.startsWith('-')) throw new UsageError(`unknown option before the command: ${a}`);
    return i;
  }
  return -1;
}

function apiUrl(raw: string, command: CommandName): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api (or REKEY_API_URL) is not a URL: ${raw}`, command);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api must be an http(s) URL, not ${url.protocol}`, command);
  }
  if (url.username || url.password) {
    throw new UsageError('--api must not carry credentials; the token comes from REKEY_TOKEN', command);
  }
  return url.toString().replace(/\/+$/, '');
}

function optional(v: Values, name: string): string | undefined {
  const value = v[name];
  return typeof value === 'string' ? value : undefined;
}

/** An optional value that, when given, must not be blank. */
function nonBlank(command: CommandName, v: Values, name: string): string | undefined {
  const value = optional(v, name);
  if (value !== undefined && value.trim() === '')
    throw new UsageError(`--${name} must not be empty`, command);
  return value;
}

function required(command: CommandName, v: Values, name: string): string {
  const value = optional(v, name);
  if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`, command);
  return value;
}

function id(command: CommandName, positionals: string[]): string {
  if (positionals.length === 0) throw new UsageError('the rotation id is missing', command);
  if (positionals.length > 1) {
    throw new UsageError(`one rotation id expected, got: ${positionals.join(' ')}`, command);
  }
  return positionals[0] ?? '';
}

/** `--exception` keys: consumer, owner, expires (expiresAt), control (compensatingControl). */
const EXCEPTION_KEYS = ['consumer', 'owner', 'expires', 'control'] as const;
type ExceptionKey = (typeof EXCEPTION_KEYS)[number];
const EXCEPTION_SYNTAX = 'consumer=…,owner=…,expires=…,control=…';
// A comma splits fields only where a key= follows, so control= text may hold commas; an unknown key is
// refused rather than folded into the value before it.
const EXCEPTION_SPLIT = /,(?=\s*[A-Za-z][\w-]*=)/;
// What the API takes: a date, or a date-time with seconds and a zone.
const ISO_DATE = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** An ISO date that exists (Date.parse would roll 2026-02-30 over to March). */
function isIsoDate(text: string): boolean {
  const day = ISO_DATE.exec(text)?.[1];
  if (day === undefined || Number.isNaN(Date.parse(text))) return false;
  return new Date(`${day}T00:00:00Z`).toISOString().startsWith(day);
}

/** Every `--exception` given, each one a consumer accepted with owner, expiry and compensating control. */
function exceptions(command: CommandName, v: Values): ExceptionInput[] | undefined {
  const given = v.exception;
  if (given === undefined) return undefined;
  const list = (Array.isArray(given) ? given : [given]).map((t) => exception(command, String(t)));
  const seen = new Set<string>();
  for (const e of list) {
    if (seen.has(e.consumer)) throw new UsageError(`--exception: ${e.consumer} is listed twice`, command);
    seen.add(e.consumer);
  }
  return list;
}

function exception(command: CommandName, text: string): ExceptionInput {
  const fields: Partial<Record<ExceptionKey, string>> = {};
  for (const part of text.split(EXCEPTION_SPLIT)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, Math.max(eq, 0)).trim();
    if (eq < 0 || !(EXCEPTION_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`--exception must look like ${EXCEPTION_SYNTAX}; got ${text}`, command);
    }
    const value = part.slice(eq + 1).trim();
    if (fields[key as ExceptionKey] !== undefined) {
      throw new UsageError(`--exception names ${key}= twice: ${text}`, command);
    }
    if (!value) throw new UsageError(`--exception: ${key}= is empty in ${text}`, command);
    fields[key as ExceptionKey] = value;
  }
  const missing = EXCEPTION_KEYS.filter((k) => fields[k] === undefined);
  if (missing.length) {
    throw new UsageError(
      `--exception needs ${missing.map((k) => `${k}=`).join(', ')} (${EXCEPTION_SYNTAX}); got ${text}`,
      command,
    );
  }
  const expires = fields.expires!;
  if (!isIsoDate(expires)) {
    throw new UsageError(
      `--exception expires= must be an ISO date such as 2026-12-31 (or a date-time with seconds and a zone); got ${expires}`,
      command,
    );
  }
  return {
    consumer: fields.consumer!,
    owner: fields.owner!,
    expiresAt: expires,
    compensatingControl: fields.control!,
  };
}

function noPositionals(command: CommandName, positionals: string[]): void {
  if (positionals.length) throw new UsageError(`unexpected argument: ${positionals.join(' ')}`, command);
}

function gate(command: CommandName, v: Values): Gate {
  return oneOf(command, 'gate', required(command, v, 'gate'), GATES);
}

function oneOf<T extends string>(
  command: CommandName,
  name: string,
  value: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got ${value}`, command);
  }
  return value as T;
}

function integer(command: CommandName, name: string, text: string, min: number, max = Infinity): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${range}; got ${text}`, command);
  }
  return n;
}

const firstLine = (s: string) => s.split('\n')[0] ?? s;

/** One command's synopsis line, or the general one. */
function synopsis(command?: CommandName): string {
  if (!command) return 'rekey <command> [options]';
  const spec = COMMANDS[command];
  const hasOptions = Object.keys(spec.options).length > 0;
  return ['rekey', command, spec.args, hasOptions ? '[options]' : ''].filter(Boolean).join(' ');
}

/** What follows a usage error: the synopsis and where the full help is. */
export function shortUsage(command?: CommandName): string {
  const help = command ? `rekey ${command} --help` : 'rekey --help';
  return `Usage: ${synopsis(command)}
Run \`${help}\` for the options and exit codes.\n`;
}

/** The help text: the command list, or one command's synopsis and options. */
export function usage(command?: CommandName): string {
  const optionLines = (options: Record<string, OptionSpec>) => {
    const rows = Object.entries(options).map(([name, o]) => [
      `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
      o.help,
    ]);
    const width = Math.max(...rows.map(([l]) => (l ?? '').length));
    return rows.map(([l, h]) => `  ${(l ?? '').padEnd(width)}  ${h}`).join('\n');
  };
  const env = [
    'Environment:',
    '  REKEY_TOKEN    bearer token (never a flag: flags are visible in ps and shell history)',
    `  REKEY_API_URL  API base URL when --api is not given (default ${DEFAULT_API_URL})`,
    '',
    'Exit codes: 0 done, 1 refused by the API (4xx), 2 usage error, 3 API unreachable or failing (5xx).',
  ].join('\n');
  if (command) {
    const spec = COMMANDS[command];
    return [
      `Usage: ${synopsis(command)}`,
      '',
      spec.summary,
      '',
      ...(Object.keys(spec.options).length ? ['Options:', optionLines(spec.options), ''] : []),
      'Global options:',
      optionLines(GLOBAL_OPTIONS),
      '',
      env,
      '',
    ].join('\n');
  }
  const names = Object.keys(COMMANDS) as CommandName[];
  const width = Math.max(...names.map((n) => `${n} ${COMMANDS[n].args}`.length));
  return [
    `Usage: ${synopsis()}`,
    '',
    'Rotates an AI-gateway API key as a Temporal workflow, through the rekey API.',
    '',
    'Commands:',
    ...names.map((n) => `  ${`${n} ${COMMANDS[n].args}`.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'Global options:',
    optionLines(GLOBAL_OPTIONS),
    '',
    env,
    '',
    'Run `rekey <command> --help` for the options of a command.',
    '',
  ].join('\n');
}
