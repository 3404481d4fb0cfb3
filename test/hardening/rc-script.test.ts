/**
 * config/rc.d/kvm_exporter, the FreeBSD service script. Linux has no
 * rc.subr, so besides `sh -n` and shellcheck (all severities) the
 * script is run under sh with a stand-in for /etc/rc.subr that provides
 * the functions it calls and records, instead of running, what it would
 * do: the command `start` runs, the pid files it creates, the `check`
 * command, the signal `reload` sends. The command lines are then parsed
 * with the CLI's own parseFlags, so a flag the CLI does not accept fails
 * here, not on a host at boot.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli/flags.js';
import { ROOT } from '../support/sim.js';

const SCRIPT = join(ROOT, 'config', 'rc.d', 'kvm_exporter');
const TEXT = readFileSync(SCRIPT, 'utf8');

/**
 * The rc.subr stand-in. run_rc_command knows start (rcvar check, precmd,
 * then the command line, one word per line as sh splits it), the custom
 * commands, and `vars`, which prints the variables rc.subr itself would use.
 * install, su, kill and id are recorded or answered from the environment.
 */
const RC_SUBR = String.raw`
load_rc_config() { [ -n "$TEST_RC_CONF" ] && . "$TEST_RC_CONF"; return 0; }
checkyesno() { eval _v=\$$1; case $_v in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0;; *) return 1;; esac; }
warn() { echo "WARN $*"; }
err() { echo "ERR $*"; exit 1; }
info() { echo "INFO $*"; }
install() { echo "INSTALL $*"; }
su() { echo "SU $1 $2"; echo "SU-COMMAND $4"; }
kill() { echo "KILL $*"; }
id() { if [ "$1" = "-Gn" ]; then echo "$TEST_GROUPS"; else echo root; fi; }
check_pidfile() { [ "$1" = "$TEST_CHILD_PIDFILE_IS" ] && [ "$2" = "$TEST_NODE_IS" ] && echo 4242; }
run_rc_command() {
	case "$1" in
	start)
		if ! checkyesno $rcvar; then echo "Cannot 'start' $name. Set $rcvar to YES."; return 0; fi
		[ -n "$start_precmd" ] && $start_precmd
		eval "set -- $command $command_args"
		for word in "$@"; do echo "ARG $word"; done
		;;
	vars)
		echo "name=$name"; echo "rcvar=$rcvar"; echo "pidfile=$pidfile"; echo "command=$command"
		echo "procname=$procname"; echo "extra_commands=$extra_commands"; echo "required_files=$required_files"
		echo "user=$kvm_exporter_user"; echo "sig_stop=$sig_stop"
		;;
	*)
		eval _cmd=\$$1_cmd
		[ -n "$_cmd" ] || { echo "unknown command $1"; return 1; }
		$_cmd
		;;
	esac
}
`;

/** The header's knobs: `# name (type): ...` and the lines under it up to the next knob or a bare `#`, with their default. */
function documentedKnobs(text: string): Map<string, string> {
  const knobs = new Map<string, string>();
  const blocks = text.split(/^(?=# kvm_exporter_\w+ \((?:bool|string)\):)/m).slice(1);
  for (const block of blocks) {
    const body = block.split(/^#$/m)[0]!;
    const name = /^# (kvm_exporter_\w+)/.exec(body)![1]!;
    const value = /Set to (\w+) by default|Default is "([^"]*)"/.exec(body);
    if (value === null) throw new Error(`${name} is documented without its default`);
    knobs.set(name, value[1] ?? value[2]!);
  }
  return knobs;
}

let dir: string;
let script: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kvm_exporter-rcd-'));
  writeFileSync(join(dir, 'rc.subr'), RC_SUBR);
  expect(TEXT).toContain('\n. /etc/rc.subr\n');
  script = join(dir, 'kvm_exporter');
  writeFileSync(script, TEXT.replace('\n. /etc/rc.subr\n', `\n. ${join(dir, 'rc.subr')}\n`));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the script with `command` and an rc.conf holding `rcConf`; returns its output lines. */
function run(command: string, rcConf = '', env: Record<string, string> = {}): string[] {
  const conf = join(dir, 'rc.conf');
  writeFileSync(conf, rcConf);
  const result = spawnSync('/bin/sh', [script, command], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, TEST_RC_CONF: conf, TEST_GROUPS: 'kvm_exporter kmem', ...env },
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.split('\n').filter(Boolean);
}

/** The words of the start command: daemon's flags, then node, the CLI, and its arguments. */
function startCommand(rcConf: string): { daemon: string[]; node: string; cli: string; argv: string[]; output: string[] } {
  const output = run('start', `kvm_exporter_enable=YES\n${rcConf}`);
  const words = output.filter((l) => l.startsWith('ARG ')).map((l) => l.slice(4));
  const nodeAt = words.findIndex((w) => w.endsWith('/node'));
  return { daemon: words.slice(0, nodeAt), node: words[nodeAt]!, cli: words[nodeAt + 1]!, argv: words.slice(nodeAt + 2), output };
}

describe('the script text', () => {
  it('is valid sh', () => {
    execFileSync('/bin/sh', ['-n', SCRIPT]);
  });

  it('passes shellcheck, findings of every severity included', () => {
    // Left out, each for a reason of rc.d itself: /etc/rc.subr exists only on FreeBSD (SC1091);
    // name, rcvar, desc, pidfile, command and friends are read by rc.subr (SC2034);
    // FreeBSD's sh has `local`, which rc.d scripts use (SC3043).
    const lint = spawnSync('shellcheck', ['--shell=sh', '--severity=style', '--exclude=SC1091,SC2034,SC3043', SCRIPT], { encoding: 'utf8' });
    expect(lint.error).toBeUndefined();
    expect(lint.stdout).toBe('');
    expect(lint.status).toBe(0);
  });

  it('has the rcorder header of a shutdown-aware service after LOGIN', () => {
    expect(TEXT.startsWith('#!/bin/sh\n')).toBe(true);
    expect(TEXT).toMatch(/^# PROVIDE: kvm_exporter$/m);
    expect(TEXT).toMatch(/^# REQUIRE: LOGIN$/m);
    expect(TEXT).toMatch(/^# KEYWORD: shutdown$/m);
  });

  it('documents exactly the knobs it defaults, with the same defaults, and uses every one', () => {
    const documented = documentedKnobs(TEXT);
    const defaulted = new Map([...TEXT.matchAll(/^: "\$\{(kvm_exporter_\w+):=([^}]*)\}"$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(documented).toEqual(
      new Map([
        ['kvm_exporter_enable', 'NO'],
        ['kvm_exporter_user', 'kvm_exporter'],
        ['kvm_exporter_group', 'kmem'],
        ['kvm_exporter_args', ''],
        ['kvm_exporter_listen_address', ':9632'],
        ['kvm_exporter_config', '/usr/local/etc/kvm_exporter.yml'],
        ['kvm_exporter_web_config', ''],
        ['kvm_exporter_node', '/usr/local/bin/node'],
        ['kvm_exporter_dir', '/usr/local/share/kvm_exporter'],
      ]),
    );
    expect(defaulted).toEqual(documented);
    const code = TEXT.split('\n').filter((line) => !line.startsWith('#') && !line.startsWith(': "${')).join('\n');
    for (const knob of documented.keys()) {
      if (knob === 'kvm_exporter_enable') expect(code).toMatch(/^rcvar=kvm_exporter_enable$/m);
      else expect(code, knob).toContain(`\${${knob}}`);
    }
  });
});

describe('service kvm_exporter start', () => {
  it('runs nothing unless kvm_exporter_enable is YES', () => {
    expect(run('start')).toEqual(["Cannot 'start' kvm_exporter. Set kvm_exporter_enable to YES."]);
  });

  it('runs serve under daemon(8) with the default knobs, and the CLI accepts every flag', () => {
    const { daemon, node, cli, argv } = startCommand('');
    expect(daemon).toEqual(['/usr/sbin/daemon', '-P', '/var/run/kvm_exporter.pid', '-p', '/var/run/kvm_exporter_child.pid', '-r', '-t', 'kvm_exporter', '-T', 'kvm_exporter']);
    expect(node).toBe('/usr/local/bin/node');
    expect(cli).toBe('/usr/local/share/kvm_exporter/dist/src/cli.js');
    const flags = parseFlags(argv);
    expect(flags.command).toBe('serve');
    expect(flags.configFile).toBe('/usr/local/etc/kvm_exporter.yml');
    expect(flags.listenAddresses.map((address) => address.text)).toEqual([':9632']);
    expect(flags.webConfigFile).toBeUndefined();
  });

  it('passes every knob on: listen address, config, web config, node, install dir and extra arguments', () => {
    const { node, cli, argv } = startCommand(`kvm_exporter_listen_address="127.0.0.1:19632"
kvm_exporter_config="/etc/kvm/kvm.yml"
kvm_exporter_web_config="/etc/kvm/web.yml"
kvm_exporter_node="/opt/node22/bin/node"
kvm_exporter_dir="/opt/kvm_exporter"
kvm_exporter_args="--web.max-requests=4 --collector.disable-defaults --collector.counters --log.format=json"
`);
    expect(node).toBe('/opt/node22/bin/node');
    expect(cli).toBe('/opt/kvm_exporter/dist/src/cli.js');
    const flags = parseFlags(argv);
    expect(flags).toMatchObject({
      command: 'serve',
      configFile: '/etc/kvm/kvm.yml',
      listenAddresses: [{ text: '127.0.0.1:19632', host: '127.0.0.1', port: 19632 }],
      webConfigFile: '/etc/kvm/web.yml',
      maxRequests: 4,
      disableDefaults: true,
      logFormat: 'json',
    });
    expect(flags.collectors.get('counters')).toBe(true);
  });

  it('creates both pid files for the service user and group, and warns when the user cannot read /dev/mem', () => {
    const { output } = startCommand('kvm_exporter_user=prom\nkvm_exporter_group=kmem\n');
    expect(output.filter((l) => l.startsWith('INSTALL '))).toEqual([
      'INSTALL -o prom -g kmem -m 0644 /dev/null /var/run/kvm_exporter.pid',
      'INSTALL -o prom -g kmem -m 0644 /dev/null /var/run/kvm_exporter_child.pid',
    ]);
    expect(output.some((l) => l.startsWith('WARN '))).toBe(false);
    const conf = join(dir, 'rc.conf');
    writeFileSync(conf, 'kvm_exporter_enable=YES\n');
    const outside = spawnSync('/bin/sh', [script, 'start'], { encoding: 'utf8', env: { PATH: process.env.PATH, TEST_RC_CONF: conf, TEST_GROUPS: 'kvm_exporter' } });
    expect(outside.stdout).toContain('WARN kvm_exporter is not in group kmem and cannot read /dev/mem: pw groupmod kmem -m kvm_exporter');
  });
});

describe('status, stop, check and reload', () => {
  it('lets rc.subr stop and watch the daemon(8) supervisor, and offers check and reload', () => {
    const vars = Object.fromEntries(run('vars').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(vars).toMatchObject({
      name: 'kvm_exporter',
      rcvar: 'kvm_exporter_enable',
      pidfile: '/var/run/kvm_exporter.pid',
      command: '/usr/sbin/daemon',
      extra_commands: 'check reload',
      required_files: '/usr/local/etc/kvm_exporter.yml',
    });
    // rc.subr matches the pid file's process against procname, or command when unset: daemon's title is "daemon: ...".
    expect(vars.procname).toBe('');
  });

  it('check runs `check` as the service user with the same config and arguments as serve', () => {
    const output = run('check', 'kvm_exporter_user=prom\nkvm_exporter_config=/etc/kvm/kvm.yml\nkvm_exporter_args="--kvm.corefile=/var/crash/vmcore.0 --no-collector.processes"\n');
    expect(output[0]).toBe('SU -m prom');
    const words = output[1]!.replace(/^SU-COMMAND /, '').split(/\s+/).filter(Boolean);
    expect(words.slice(0, 2)).toEqual(['/usr/local/bin/node', '/usr/local/share/kvm_exporter/dist/src/cli.js']);
    const flags = parseFlags(words.slice(2));
    expect(flags).toMatchObject({ command: 'check', configFile: '/etc/kvm/kvm.yml', kvmCorefile: '/var/crash/vmcore.0' });
    expect(flags.collectors.get('processes')).toBe(false);
  });

  it('reload sends SIGHUP to the exporter, not to its supervisor', () => {
    const env = { TEST_CHILD_PIDFILE_IS: '/var/run/kvm_exporter_child.pid', TEST_NODE_IS: '/usr/local/bin/node' };
    expect(run('reload', '', env)).toEqual(['Reloading kvm_exporter config files.', 'KILL -HUP 4242']);
  });

  it('reload says so when the exporter is not running', () => {
    const conf = join(dir, 'rc.conf');
    writeFileSync(conf, '');
    const result = spawnSync('/bin/sh', [script, 'reload'], { encoding: 'utf8', env: { PATH: process.env.PATH, TEST_RC_CONF: conf } });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('kvm_exporter is not running.\n');
  });
});
