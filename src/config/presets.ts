/**
 * Where presets live and how one is read. A preset is a config file for one
 * kernel release (`config/presets/<name>.yml` in the package): its layouts and
 * entries are merged before the config file's own. The folder is found by
 * walking up from this module to the folder holding package.json, because the
 * module runs both from src/config (vitest) and from dist/src/config (built).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PRESET_SUFFIX = '.yml';

/** The package's `config/presets` folder, or undefined if no package.json is above this module. */
export function defaultPresetsDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'config', 'presets');
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Preset names in `dir`, sorted; empty if the folder cannot be read. */
export function knownPresets(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(PRESET_SUFFIX))
      .map((name) => name.slice(0, -PRESET_SUFFIX.length))
      .sort();
  } catch {
    return [];
  }
}

export function presetFile(dir: string, name: string): string {
  return join(dir, `${name}${PRESET_SUFFIX}`);
}
