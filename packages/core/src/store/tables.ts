/** Table definitions: names, primary key, declared (compound) indexes, local retention (SPEC §3). */
import { randomBytes } from 'node:crypto';
import { TmError } from '../errors.js';
import { assertAttributeName, assertName, parseTableRef } from '../validate.js';

/** A table's definition as stored and as sent with every sync answer (SPEC §5). */
export interface TableDef {
  /** `database.table` */
  readonly name: string;
  readonly primaryKey: string;
  /** declared indexes; each is a list of attributes, e.g. [['sensor'], ['sensor', 'ts']] */
  readonly indexes: readonly (readonly string[])[];
  /** local retention in seconds (HarperDB `expiration`); only for tables that are not replicated */
  readonly expirationSec?: number;
  /** random id of this incarnation of the table; a drop and re-create gives a new one (I13) */
  readonly incarnation: string;
  readonly createdMs: number;
}

/** What a caller gives to create a table. */
export interface TableInput {
  /** `database.table`, or a bare table name in database `data` */
  readonly name: string;
  readonly primaryKey?: string;
  readonly indexes?: readonly (readonly string[])[];
  readonly expirationSec?: number;
  /** keep a given incarnation (a table definition received from the hub) */
  readonly incarnation?: string;
}

/** Normalises `table` or `db.table` to `db.table`, validating both names. */
export function tableRef(name: string): string {
  if (typeof name !== 'string') throw new TmError('TM_INVALID_NAME', 'table name must be a string');
  if (!name.includes('.')) return `data.${assertName('table', name)}`;
  const { database, table } = parseTableRef(name);
  return `${database}.${table}`;
}

/** Validates a table input and builds its definition. */
export function makeTableDef(input: TableInput, nowMs: number): TableDef {
  const name = tableRef(input.name);
  const primaryKey = input.primaryKey ?? 'id';
  if (typeof primaryKey !== 'string' || primaryKey.length === 0 || primaryKey.startsWith('__')) {
    throw new TmError('TM_INVALID_NAME', `primary key attribute ${JSON.stringify(primaryKey)} is not valid`);
  }
  assertAttributeName(primaryKey);
  const indexes: string[][] = [];
  const seen = new Set<string>();
  for (const index of input.indexes ?? []) {
    if (!Array.isArray(index) || index.length === 0 || index.length > 8) {
      throw new TmError('TM_INVALID_ARGUMENT', 'an index is a list of 1 to 8 attribute names');
    }
    for (const attr of index) assertAttributeName(attr);
    const id = index.join(',');
    if (index.some((a: string) => a.includes(','))) {
      throw new TmError('TM_INVALID_ARGUMENT', `indexed attribute names cannot contain ',': ${id}`);
    }
    if (!seen.has(id)) indexes.push([...index]);
    seen.add(id);
  }
  const exp = input.expirationSec;
  if (exp !== undefined && (!Number.isSafeInteger(exp) || exp <= 0)) {
    throw new TmError('TM_INVALID_ARGUMENT', 'expiration must be a positive whole number of seconds');
  }
  const incarnation = input.incarnation ?? randomBytes(8).toString('hex');
  return {
    name,
    primaryKey,
    indexes,
    ...(exp === undefined ? {} : { expirationSec: exp }),
    incarnation,
    createdMs: nowMs,
  };
}
