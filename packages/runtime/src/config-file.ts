/**
 * Configuration layering for the binaries (SPEC §8 "Configuration"): one YAML file, then environment variables,
 * then flags — later wins — validated by the caller's parser, with a source line naming where each layer came from.
 */
import { readFileSync } from 'node:fs';
import { applyEnv, applyOverrides, ConfigError } from '@tablemesh/core';
import { parseDocument } from 'yaml';

/** Reads a YAML file into a plain object; ConfigError naming the file and line on failure. */
export function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    // prettyErrors (the default) ends the first line with "at line L, column C:" and appends a code excerpt.
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]!.replace(/:$/, '')}`),
    );
  }
  return doc.toJS() ?? {};
}

/** Where a configuration comes from. */
export interface LoadConfigOptions {
  /** YAML file path; default `env[<prefix>CONFIG]`; no file = env and flags only */
  readonly file?: string;
  /** default `process.env` */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** flag overrides by key path, e.g. `{ 'hub.url': 'mqtts://hub:8883' }` (core `parseOverridePairs`) */
  readonly overrides?: Readonly<Record<string, unknown>>;
}

/**
 * Loads file, then env variables starting with `prefix` (e.g. `TM_EDGE_`), then flags, and validates with `parse`
 * (which throws a ConfigError listing every problem).
 */
export function loadLayeredConfig<C>(
  prefix: string,
  parse: (input: unknown, source: string) => C,
  options: LoadConfigOptions = {},
): C {
  const env = options.env ?? process.env;
  const fileVar = `${prefix}CONFIG`;
  const file = options.file ?? env[fileVar];
  const fromFile = file === undefined ? {} : readYamlFile(file);
  const { config, used } = applyEnv(fromFile, env, prefix, [fileVar]);
  const overrides = options.overrides ?? {};
  const merged = applyOverrides(config, overrides);
  const source = [
    file ?? 'no file',
    ...(used.length > 0 ? [`env ${used.join(', ')}`] : []),
    ...(Object.keys(overrides).length > 0 ? [`flags ${Object.keys(overrides).join(', ')}`] : []),
  ].join(' + ');
  return parse(merged, source);
}
