/**
 * Turns zod issues into located ConfigErrors. The schema says what it
 * expected; this module adds what was found ("got ...") and where, and splits
 * an unknown-keys issue into one error per key, located at that key. It also
 * owns `describeValue`, the one way config messages quote a found value.
 */
import type { z } from 'zod';
import type { ConfigError } from '../errors.js';
import type { YamlFile, KeyPath } from './yaml-file.js';

const MAX_QUOTED = 40;

/** A found value as messages show it: strings quoted, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function quote(text: string): string {
  const short = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
  return JSON.stringify(short);
}

/** Parses `value` with `schema`; on failure pushes located errors and returns undefined. */
export function parseAt<T extends z.ZodType>(
  schema: T,
  value: unknown,
  prefix: KeyPath,
  source: YamlFile,
  errors: ConfigError[],
): z.output<T> | undefined {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) errors.push(...issueErrors(issue, prefix, source));
  return undefined;
}

function issueErrors(issue: z.core.$ZodIssue, prefix: KeyPath, source: YamlFile): ConfigError[] {
  const path = [...prefix, ...(issue.path as (string | number)[])];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => source.error([...path, key], `unknown key; ${issue.message}`, 'key'));
  }
  if (issue.input === undefined && issue.path.length > 0) {
    return [source.error(path, `required key is missing (${issue.message})`)];
  }
  return [source.error(path, withFound(issue.message, issue.input))];
}

function withFound(message: string, input: unknown): string {
  return message.startsWith('expected') ? `${message}, got ${describeValue(input)}` : message;
}
