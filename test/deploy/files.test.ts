// The deployment files against the code they run (no container engine here): every pricealert command
// and flag in the Dockerfile and docker-compose.yml exists in the CLI, every variable they set is in
// the config schema with a value it accepts, and the pieces agree with each other (cluster, roles,
// load balancer, image contents).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.ts';
import { configSchema, loadConfig } from '../../src/config.ts';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

// ---- the Dockerfile, as the builder reads it -------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly rest: string;
}

/** Instructions per stage, continuation lines joined, comments and parser directives left out. */
function dockerfileStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of lines.map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), rest };
    if (instruction.keyword === 'FROM') stages.push([]);
    // ARG before the first FROM belongs to no stage.
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

const only = (stage: Instruction[], keyword: string): Instruction[] =>
  stage.filter((instruction) => instruction.keyword === keyword);

/** `KEY=value KEY2="value 2"` */
function envPairs(rest: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const [, key, value] of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)/g))
    pairs[key!] = value!.startsWith('"') ? (JSON.parse(value!) as string) : value!;
  return pairs;
}

/** The exec form (`["a", "b"]`), the only form these files use for what pricealert runs. */
function execForm(rest: string): string[] {
  const form: unknown = JSON.parse(rest);
  if (!Array.isArray(form) || !form.every((part) => typeof part === 'string'))
    throw new Error(`not an exec-form array: ${rest}`);
  return form as string[];
}

// ---- docker-compose.yml, as Compose reads it --------------------------------------------------------

/** Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}` and `${NAME?error}`. */
function interpolate(value: string, shell: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (_, name: string, colon: string, kind: string | undefined, word: string) => {
      const set = shell[name] !== undefined && (colon !== ':' || shell[name] !== '');
      if (set) return shell[name]!;
      if (kind === '-') return word;
      if (kind === '?') throw new Error(`required variable ${name} is missing: ${word}`);
      return '';
    },
  );
}

interface Service {
  build?: unknown;
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean>;
  volumes?: string[];
}

/** What the shell that runs `docker compose up` holds: the one variable the file requires. */
const SHELL = { PRICEALERT_JWT_SECRET: 'a-secret-of-more-than-16-characters' };

const environmentOf = (service: Service): Record<string, string> =>
  Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value), SHELL)]),
  );

// ---- the CLI, as commander parses it ----------------------------------------------------------------

/** The environment variable a flag stands for, as its help says it: `… (PRICEALERT_ROLE, default all)`. */
const flagVariable = (description: string): string | undefined =>
  /\(([A-Z][A-Z0-9_]+)[,)]/.exec(description)?.[1];

/**
 * Checks `args` against the command line the CLI defines: a known command, known flags, the values
 * they need, and its arguments. Returns the config overrides the flags stand for.
 */
function parseCommandLine(program: Command, args: readonly string[]): Record<string, string> {
  const [name, ...rest] = args;
  const command = program.commands.find((candidate) => candidate.name() === name);
  if (!command) throw new Error(`pricealert has no command ${name}`);
  const overrides: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i += 1) {
    const token = rest[i]!;
    if (!token.startsWith('--')) {
      positional.push(token);
      continue;
    }
    const [flag, inline] = token.split(/=(.*)/s) as [string, string | undefined];
    const option = command.options.find((candidate) => candidate.long === flag);
    if (!option) throw new Error(`pricealert ${name} has no option ${flag}`);
    if (!option.required && !option.optional) continue;
    const value = inline ?? rest[(i += 1)];
    if (value === undefined) throw new Error(`pricealert ${name} ${flag} needs a value`);
    const variable = flagVariable(option.description);
    if (variable) overrides[variable] = value;
  }
  const required = command.registeredArguments.filter((argument) => argument.required).length;
  if (positional.length < required || positional.length > command.registeredArguments.length)
    throw new Error(`pricealert ${name} takes ${command.registeredArguments.length} arguments`);
  return overrides;
}

// ---- the checks -------------------------------------------------------------------------------------

const stages = dockerfileStages(read('Dockerfile'));
const runtime = stages.at(-1)!;
const imageEnv = Object.assign({}, ...only(runtime, 'ENV').map((env) => envPairs(env.rest))) as Record<
  string,
  string
>;
const entrypoint = execForm(only(runtime, 'ENTRYPOINT').at(-1)!.rest);
const defaultCommand = execForm(only(runtime, 'CMD').at(-1)!.rest);

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
/** The services that run the image this repository builds. */
const app = services.filter(([, service]) => service.build !== undefined);
const kurrent = services.filter(([, service]) => /kurrentdb/.test(interpolate(service.image ?? '', {})));

let program: Command;
beforeAll(async () => {
  program = await buildProgram();
});

/** Every pricealert command line the files start: the image's default, and each app service's. */
const commandLines = (): [string, string[]][] => [
  ['Dockerfile CMD', defaultCommand],
  ...app.map(([name, service]): [string, string[]] => [name, service.command ?? defaultCommand]),
];

describe('the pricealert command lines', () => {
  it('run the pricealert bin', () => {
    expect(entrypoint).toEqual(['pricealert']);
    expect(only(runtime, 'RUN').map((run) => run.rest)).toContainEqual(
      expect.stringMatching(/ln -s \/app\/bin\/pricealert\.js \/usr\/local\/bin\/pricealert/),
    );
    for (const [, service] of app) expect(service.entrypoint ?? entrypoint).toEqual(['pricealert']);
  });

  it.each(commandLines())(
    '%s: %j names a command and flags the CLI has, with values config accepts',
    (_, args) => {
      const overrides = parseCommandLine(program, args);
      expect(() => loadConfig({ ...imageEnv, ...SHELL }, overrides)).not.toThrow();
    },
  );
});

describe('the environment', () => {
  const known = Object.keys(configSchema.shape);

  it('of the image names only configuration variables, with values they accept', () => {
    for (const key of Object.keys(imageEnv)) expect(known).toContain(key);
    expect(() => loadConfig(imageEnv)).not.toThrow();
    // Reachable from outside the container, on the port the load balancer and the healthcheck use.
    expect(loadConfig(imageEnv)).toMatchObject({ HOST: '0.0.0.0', PORT: 4000 });
  });

  it.each(app)('of %s names only configuration variables, with values they accept', (_, service) => {
    const environment = environmentOf(service);
    for (const key of Object.keys(environment)) expect(known).toContain(key);
    expect(() => loadConfig({ ...imageEnv, ...environment })).not.toThrow();
  });

  it('leaves no process with a secret of its own: every one has the same token secret', () => {
    const secrets = new Set(app.map(([, service]) => environmentOf(service).PRICEALERT_JWT_SECRET));
    expect([...secrets]).toEqual([SHELL.PRICEALERT_JWT_SECRET]);
    expect(() => interpolate(String(app[0]![1].environment?.PRICEALERT_JWT_SECRET), {})).toThrow(
      /PRICEALERT_JWT_SECRET/,
    );
  });
});

describe('docker-compose.yml', () => {
  /** The parts `serve` runs in this service, as the config it starts with says. */
  const roleOf = (service: Service): string[] => {
    const config: Record<string, unknown> = loadConfig(
      { ...imageEnv, ...environmentOf(service) },
      parseCommandLine(program, service.command ?? defaultCommand),
    );
    return config.PRICEALERT_ROLE as string[];
  };

  it('runs two API replicas, a reactor and a feed, each alone in its process', () => {
    const roles = app.map(([, service]) => roleOf(service).join(','));
    expect(roles.sort()).toEqual(['api', 'api', 'feed', 'reactor']);
  });

  it('has a three-node KurrentDB cluster, each node seeded with the others, and every process on all three', () => {
    const names = kurrent.map(([name]) => name);
    expect(names).toHaveLength(3);
    for (const [name, service] of kurrent) {
      const environment = environmentOf(service);
      expect(environment).toMatchObject({ KURRENTDB_CLUSTER_SIZE: '3', KURRENTDB_INSECURE: 'true' });
      expect(environment.KURRENTDB_GOSSIP_SEED?.split(',').sort()).toEqual(
        names.filter((other) => other !== name).map((other) => `${other}:2113`),
      );
      expect(environment.KURRENTDB_ADVERTISE_HOST_TO_CLIENT_AS).toBe(name);
    }
    for (const [, service] of app) {
      const url = loadConfig(environmentOf(service)).EVENTSTORE_URL!;
      const [, hosts = '', query = ''] = /^esdb:\/\/([^/?]+)\/?\?(.*)$/.exec(url) ?? [];
      expect(hosts.split(',').sort()).toEqual(names.map((name) => `${name}:2113`));
      // The cluster runs insecure: a client expecting TLS would never connect.
      expect(new URLSearchParams(query).get('tls')).toBe('false');
    }
  });

  it('puts a load balancer before exactly the API replicas, passing the WebSocket upgrade on', () => {
    const apis = app.filter(([, service]) => roleOf(service).includes('api')).map(([name]) => name);
    const balancer = services.find(([, service]) =>
      service.volumes?.some((volume) => volume.includes('nginx.conf')),
    );
    expect(balancer).toBeDefined();
    const [source] = balancer![1].volumes!.find((volume) => volume.includes('nginx.conf'))!.split(':');
    const nginx = read(source!);
    const upstream = [...nginx.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map(([, host, port]) => ({
      host,
      port: Number(port),
    }));
    const port = loadConfig(imageEnv).PORT;
    expect(upstream).toEqual(apis.map((host) => ({ host, port })));
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginx).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
  });
});

describe('the Dockerfile', () => {
  it('builds in one stage with npm ci and runs another with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.slice(0, -1).flat();
    expect(only(build, 'RUN').map((run) => run.rest)).toContainEqual(
      expect.stringMatching(/npm ci\b[\s\S]*npm prune --omit=dev/),
    );
    const copied = only(runtime, 'COPY').map((copy) => copy.rest);
    for (const path of ['node_modules', 'dist', 'bin', 'schema', 'package.json', 'package-lock.json'])
      expect(copied).toContainEqual(expect.stringMatching(new RegExp(`^--from=\\S+ (\\S+ )*/app/${path} `)));
    expect(
      only(runtime, 'RUN')
        .map((run) => run.rest)
        .join('\n'),
    ).not.toMatch(/npm (ci|install)/);
  });

  it('copies into the build only files the repository has and .dockerignore lets through', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    const sources = stages
      .slice(0, -1)
      .flatMap((stage) => only(stage, 'COPY'))
      .filter((copy) => !copy.rest.startsWith('--from'))
      .flatMap((copy) => copy.rest.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(ignored, source).not.toContain(source);
    }
  });

  it('runs as a user without root and checks health on /ready', () => {
    const user = only(runtime, 'USER').at(-1)?.rest;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user!.split(':')[0]);
    const healthcheck = only(runtime, 'HEALTHCHECK').at(-1)?.rest ?? '';
    const [, form = ''] = /\bCMD\s+(\[.*\])$/.exec(healthcheck) ?? [];
    expect(execForm(form).join(' ')).toMatch(/127\.0\.0\.1:\$\{process\.env\.PORT\}\/ready/);
  });
});
