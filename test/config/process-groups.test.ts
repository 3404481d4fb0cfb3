/**
 * `processes.groups` in the config: what is accepted (up to 100 groups,
 * unanchored linear-time patterns) and every refusal, each located by file,
 * line, column and key.
 */
import { describe, expect, it } from 'vitest';

import { parseConfig } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/errors.js';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'bad.yml');
  } catch (error) {
    if (error instanceof ConfigErrors) return error.errors.map((e) => e.message);
    throw error;
  }
  throw new Error('the config was accepted');
}

const many = (n: number): string => `processes:\n  groups:\n${Array.from({ length: n }, (_, i) => `    - { name: g${i}, comm: "^c${i}$" }`).join('\n')}\n`;

describe('processes.groups accepted', () => {
  it('keeps the groups in order, with comm and args as written', () => {
    const config = parseConfig('processes:\n  groups:\n    - { name: web, comm: "^nginx$", args: worker }\n    - { name: "php: www", args: "pool www" }\n', 'ok.yml');
    expect(config.processes.groups).toEqual([{ name: 'web', comm: '^nginx$', args: 'worker' }, { name: 'php: www', args: 'pool www' }]);
  });

  it('takes 100 groups, and none by default', () => {
    expect(parseConfig(many(100), 'ok.yml').processes.groups).toHaveLength(100);
    expect(parseConfig('', 'ok.yml').processes.groups).toEqual([]);
  });
});

const CASES: [string, string, string[]][] = [
  ['more groups than the cap', many(101), [
    'bad.yml:3:5: processes.groups: at most 100 groups (each is a series and a pattern tried on every process)',
  ]],
  ['a pattern that is not a regular expression', 'processes:\n  groups:\n    - { name: a, comm: "x(" }\n', [
    'bad.yml:3:24: processes.groups[0].comm: not a regular expression: Invalid regular expression: /x(/l: Unterminated group',
  ]],
  ['a pattern with a backreference', 'processes:\n  groups:\n    - { name: a, args: "(a+)\\\\1" }\n', [
    'bad.yml:3:24: processes.groups[0].args: "(a+)\\\\1" cannot run in linear time: backreferences, lookaround and large counted repetitions are not supported',
  ]],
  ['a pattern with lookahead', 'processes:\n  groups:\n    - { name: a, args: "x(?=y)" }\n', [
    'bad.yml:3:24: processes.groups[0].args: "x(?=y)" cannot run in linear time: backreferences, lookaround and large counted repetitions are not supported',
  ]],
  ['a pattern too long', `processes:\n  groups:\n    - { name: a, args: "${'x'.repeat(513)}" }\n`, [
    'bad.yml:3:24: processes.groups[0].args: a pattern of 513 characters; at most 512',
  ]],
  ['an empty pattern', 'processes:\n  groups:\n    - { name: a, comm: "" }\n', [
    'bad.yml:3:24: processes.groups[0].comm: a pattern must not be empty',
  ]],
  ['an empty name', 'processes:\n  groups:\n    - { name: "", comm: x }\n', [
    'bad.yml:3:15: processes.groups[0].name: a group name must not be empty',
  ]],
  ['a name too long', `processes:\n  groups:\n    - { name: ${'n'.repeat(129)}, comm: x }\n`, [
    'bad.yml:3:15: processes.groups[0].name: a group name of 129 characters; at most 128',
  ]],
  ['a name with a control character', 'processes:\n  groups:\n    - { name: "a\\tb", comm: x }\n', [
    'bad.yml:3:15: processes.groups[0].name: a group name must not contain control characters',
  ]],
  ['a name with a lone surrogate', 'processes:\n  groups:\n    - { name: "a\\ud800", comm: x }\n', [
    'bad.yml:3:15: processes.groups[0].name: a group name must be well-formed Unicode (it has a lone surrogate)',
  ]],
  ['a name that is a number', 'processes:\n  groups:\n    - { name: 5, comm: x }\n', [
    'bad.yml:3:15: processes.groups[0].name: expected a group name, got 5',
  ]],
  ['duplicate names', 'processes:\n  groups:\n    - { name: web, comm: a }\n    - { name: web, args: b }\n', [
    'bad.yml:4:15: processes.groups[1].name: group name "web" is used twice',
  ]],
  ['a group with neither comm nor args', 'processes:\n  groups:\n    - { name: web }\n', [
    'bad.yml:3:7: processes.groups[0]: group "web" needs comm, args or both',
  ]],
  ['a group without a name', 'processes:\n  groups:\n    - { comm: x }\n', [
    'bad.yml:3:7: processes.groups[0].name: required key is missing (expected a group name)',
  ]],
  ['an unknown key in a group', 'processes:\n  groups:\n    - { name: a, comm: x, cmdline: x }\n', [
    'bad.yml:3:27: processes.groups[0].cmdline: unknown key; allowed keys: name, comm, args',
  ]],
  ['groups that are not a list', 'processes:\n  groups: { name: a }\n', [
    'bad.yml:2:11: processes.groups: expected a list of groups, got a mapping',
  ]],
];

describe('processes.groups refused', () => {
  it.each(CASES)('refuses %s', (_title, yaml, expected) => {
    expect(problems(yaml)).toEqual(expected);
  });
});
