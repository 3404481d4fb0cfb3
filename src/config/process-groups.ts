/**
 * Process groups (`processes.groups`): the rules for a group's name and its
 * command and argument patterns, shared by the config loader, which refuses
 * what breaks them, and the processes collector, which compiles the patterns.
 *
 * Patterns are JavaScript regular expressions matched unanchored, as
 * process-exporter matches its Go RE2 patterns (`^` and `$` anchor
 * explicitly). They are compiled for V8's linear-time engine (the `l` flag,
 * enabled with --enable-experimental-regexp-engine), so no command line can
 * make a match backtrack exponentially; patterns that engine cannot run
 * (backreferences, lookaround, large counted repetitions, the `i` and `u`
 * flags) are refused at load, as RE2 refuses backreferences and lookaround.
 */
import { setFlagsFromString } from 'node:v8';

/** At most this many groups: each is a series and a pattern tried on every process. */
export const MAX_PROCESS_GROUPS = 100;
/** Longer patterns are typing mistakes, and their compiled automata cost memory. */
export const MAX_GROUP_PATTERN = 512;
/** Longer group names are no longer names. */
export const MAX_GROUP_NAME = 128;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Compiles a group pattern for the linear-time engine; throws SyntaxError
 * for one it cannot run. Setting the V8 flag again is harmless and cheap,
 * and patterns are compiled only at load and when collectors are built.
 */
export function compileGroupPattern(pattern: string): RegExp {
  setFlagsFromString('--enable-experimental-regexp-engine');
  return new RegExp(pattern, 'l');
}

/** Why `pattern` cannot be a group pattern, or undefined. */
export function groupPatternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'a pattern must not be empty';
  if (pattern.length > MAX_GROUP_PATTERN) return `a pattern of ${pattern.length} characters; at most ${MAX_GROUP_PATTERN}`;
  try {
    compileGroupPattern(pattern);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    if (message.includes('linear time')) {
      return `${JSON.stringify(pattern)} cannot run in linear time: backreferences, lookaround and large counted repetitions are not supported`;
    }
    return `not a regular expression: ${message}`;
  }
}

/**
 * Why `name` cannot be a group's label value, or undefined. A Prometheus
 * label value may be any UTF-8 text; a group name is also shown in logs and
 * dashboards, so it must be non-empty, at most MAX_GROUP_NAME characters,
 * well-formed Unicode (a lone surrogate has no UTF-8 encoding) and free of
 * control characters.
 */
export function groupNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a group name must not be empty';
  if (name.length > MAX_GROUP_NAME) return `a group name of ${name.length} characters; at most ${MAX_GROUP_NAME}`;
  if (LONE_SURROGATE.test(name)) return 'a group name must be well-formed Unicode (it has a lone surrogate)';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'a group name must not contain control characters';
  return undefined;
}
