/**
 * Errors with stable codes (SPEC §7: bad input gets a clear error and changes nothing).
 * Callers branch on `code`, never on message text. Every code is listed in docs/errors.md.
 */
export const ERROR_CODES = {
  TM_INVALID_NAME: 'a database, table, node or attribute name breaks the naming rules (SPEC §3)',
  TM_INVALID_VALUE: 'a value is not storable JSON (integer beyond ±2^53, NaN, undefined, function…)',
  TM_INVALID_KEY: 'a primary key is missing or is not a string or a finite number',
  TM_INVALID_ARGUMENT: 'an argument has the wrong type or shape',
  TM_RECORD_TOO_LARGE: 'a record is larger than maxRecordBytes',
  TM_TX_TOO_LARGE: 'a transaction exceeds maxTxBytes or its operation limit',
  TM_UNKNOWN_TABLE: 'the table does not exist',
  TM_TABLE_EXISTS: 'the table already exists',
  TM_BAD_MESSAGE: 'a wire message could not be decoded (truncated, random or wrong type)',
  TM_QUOTA_FULL: "the table's outbox quota is full and onFull is reject (HTTP 507)",
  TM_CLOCK_AHEAD: 'transient: the HLC is further ahead of the hub clock than maxClockSkewMs (I3)',
  TM_NOT_GRANTED: 'transient: the node is not granted this table (I15)',
  TM_SCHEMA_MISMATCH: "transient: the batch's table definition disagrees with the hub's (SPEC §5)",
  TM_BELOW_GC_HORIZON:
    'poison: a write stamped at or below the GC horizon to a key the hub does not hold (I5)',
  TM_EPOCH_CONFLICT: 'a restored or cloned store was detected: rotate the publish epoch and re-upload (I9)',
  TM_GAP: 'a transaction arrived out of order: resume from the given seq (I8)',
  TM_STORE_CLOSED: 'the store is closed or failed; reopen it',
  TM_STORE_FAILED: 'a storage write failed; the store refuses further writes until reopened',
  TM_READ_ONLY_TABLE: 'the table is subscribe-only on this node (HTTP 409)',
  TM_NOT_FOUND: 'no such record or entry',
  TM_UNKNOWN_DATABASE: 'the database does not exist',
  TM_DATABASE_EXISTS: 'the database already exists',
  TM_ATTRIBUTE_EXISTS: 'the attribute is already declared on the table',
  TM_REPLICATED_TABLE: 'not allowed on a table replicated with the hub; change its replication first',
  TM_INVALID_CONFIG:
    'a configuration file, environment variable or flag is invalid; the message lists every problem',
  TM_NODE_EXISTS: 'a node with this id is already enrolled on the hub (HTTP 409)',
  TM_CONFIG_NODE:
    "the node is defined in the hub's config file: change it there, not through the admin API (409)",
} as const;

/** A stable error code; see ERROR_CODES and docs/errors.md. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error type core throws for anything a caller can act on. */
export class TmError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TmError';
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a TmError, optionally with the given code. */
export function isTmError(err: unknown, code?: ErrorCode): err is TmError {
  return err instanceof TmError && (code === undefined || err.code === code);
}
