/**
 * Helpers for the tests of the shipped YAML (deploy/examples, compose, Kubernetes): which lines define keys, the
 * optional keys shipped commented out, and the leaf paths of a parsed document. Not a test file.
 */

/** A line that defines a mapping key (block style; flow maps count as one line). */
export interface KeyLine {
  readonly n: number;
  readonly key: string;
  readonly text: string;
}

const KEY_LINE = /^\s*(?:- )?([A-Za-z_][A-Za-z0-9_]*)\s*:(?:\s|$)/;
/** `# key: value` at a key's indentation: an optional key shipped commented out. */
const OPTIONAL_KEY = /^(\s*)# ([a-z][A-Za-z0-9]*: .*)$/;

/** Every line of `text` that defines a key (comment lines excluded). */
export function keyLines(text: string): KeyLine[] {
  return text.split('\n').flatMap((text, i) => {
    if (text.trimStart().startsWith('#')) return [];
    const m = KEY_LINE.exec(text);
    return m ? [{ n: i + 1, key: m[1]!, text }] : [];
  });
}

/** Key lines without a comment: none on the line itself, and the previous non-blank line is not a comment. */
export function uncommentedKeys(text: string): KeyLine[] {
  const lines = text.split('\n');
  return keyLines(text).filter(({ n, text: line }) => {
    if (line.includes(' #')) return false;
    for (let i = n - 2; i >= 0; i--) {
      const prev = lines[i]!.trim();
      if (prev === '') continue;
      return !prev.startsWith('#');
    }
    return true;
  });
}

/** The text with every optional key uncommented (`  # ttlMs: 7d  # why` → `  ttlMs: 7d  # why`). */
export function uncommentOptional(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const m = OPTIONAL_KEY.exec(line);
      return m ? `${m[1]}${m[2]}` : line;
    })
    .join('\n');
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json } | Date;

/**
 * Dotted leaf paths of a parsed document: `hub.backoff.initialMs`, `publish.0.table`. Arrays of scalars (and of
 * arrays) are leaves as a whole; arrays of objects are walked by index.
 */
export function leafPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null || Array.isArray(v))) return [prefix];
    return value.flatMap((v, i) => leafPaths(v, `${prefix}${prefix ? '.' : ''}${i}`));
  }
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    return Object.entries(value as Record<string, Json>).flatMap(([k, v]) =>
      leafPaths(v, `${prefix}${prefix ? '.' : ''}${k}`),
    );
  }
  return [prefix];
}

/** The value at a dotted path, or undefined. */
export function getPath(value: unknown, path: string): unknown {
  let node: unknown = value;
  for (const segment of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}
