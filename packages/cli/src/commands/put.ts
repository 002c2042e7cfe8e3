/**
 * `tablemesh put <table> [id] <json>` — write a whole record (put: full replace). Without an id the record is
 * created (`POST /{table}/`): its primary key from the body, else a generated UUIDv7.
 */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import {
  type ConfirmOptions,
  confirmOptions,
  confirmQuery,
  jsonArg,
  printWrite,
  recordPath,
} from '../records.js';

/** `put`. */
export function makePutCommand(io: Io): Command {
  return confirmOptions(
    new Command('put')
      .description('write a whole record (replaces it); without an id, create one')
      .usage('[options] <table> [id] <json>')
      .argument('<table>', '`alerts` or `db.table`')
      .argument('<id>', 'primary key (omit it to take the key from the record, or generate one)')
      .argument('[json]', 'the record as a JSON object, - for stdin, or @file')
      .option('-n, --number', 'the id is a number'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ tablemesh put thresholds temp '{"sensor":"temp","max":30}' --on-hub
  $ tablemesh put alerts '{"sensor":"temp","value":31}' --confirm hub --confirm-timeout 10s
  $ cat record.json | tablemesh put alerts a1 -`,
    )
    .action(
      async (
        tableName: string,
        idOrJson: string,
        maybeJson: string | undefined,
        o: ConfirmOptions & { number?: boolean },
        c: Command,
      ) => {
        const ctx = contextOf(c, io);
        // `put TABLE JSON` creates; `put TABLE ID JSON` replaces
        const [id, json] = maybeJson === undefined ? [undefined, idOrJson] : [idOrJson, maybeJson];
        const record = jsonArg(json);
        const node = ctx.target();
        if (id === undefined) {
          const answer = await node.request('POST', `/${encodeURIComponent(tableName)}/`, record, {
            query: confirmQuery(o),
          });
          const key = (answer.body as { key?: unknown }).key;
          printWrite(ctx, answer, 'created', `${tableName}/${String(key)}`);
          return;
        }
        const { path, query } = recordPath(tableName, id, o.number === true);
        const answer = await node.request('PUT', path, record, { query: { ...query, ...confirmQuery(o) } });
        printWrite(ctx, answer, 'put', `${tableName}/${id}`);
      },
    );
}
