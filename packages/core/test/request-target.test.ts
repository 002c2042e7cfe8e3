import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseTarget } from '../src/api/http-front.js';

/** What the HTTP front did before parseTarget: WHATWG URL parsing against a base. */
type Outcome = { pathname: string; query: [string, string][] } | { throws: string };

/** What the HTTP front did before parseTarget: WHATWG URL parsing against a base (`//x` names a host). */
function viaUrl(target: string): Outcome {
  try {
    const url = new URL(target, 'http://localhost');
    return { pathname: url.pathname, query: [...url.searchParams] };
  } catch (err) {
    return { throws: (err as Error).name };
  }
}

function viaParseTarget(target: string): Outcome {
  try {
    const t = parseTarget(target);
    return { pathname: t.pathname, query: [...t.searchParams] };
  } catch (err) {
    return { throws: (err as Error).name };
  }
}

// Pieces that exercise every branch: plain characters, dot segments (also percent-encoded), `//`, `\`, `#`,
// characters URL percent-encodes, `+` and `%` escapes (valid or not) in the query.
const PIECES = [
  'a',
  'Z',
  '0',
  '_',
  '-',
  '~',
  '.',
  '..',
  '%2e',
  '%2E',
  '.%2e',
  '%20',
  '%2F',
  '%zz',
  '%',
  '+',
  '=',
  '&',
  ';',
  ',',
  ':',
  '@',
  '!',
  '$',
  "'",
  '(',
  ')',
  '*',
  '/',
  '//',
  '?',
  '#',
  '\\',
  ' ',
  '"',
  '<',
  '>',
  '`',
  '{',
  '}',
  '|',
  '[',
  ']',
  '^',
  'é',
  'data.alerts',
  'r1',
  'idType=number',
  'changes',
];

describe('parseTarget', () => {
  it('splits a target exactly as new URL(target, base) does, for any mix of pieces', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }), (pieces) => {
        const target = `/${pieces.join('')}`;
        assert.deepEqual(viaParseTarget(target), viaUrl(target), target);
      }),
      { numRuns: 5_000 },
    );
  });

  it('keeps the usual REST targets as they are, and resolves what URL resolves', () => {
    const cases: [string, string, [string, string][]][] = [
      ['/data.alerts/r1', '/data.alerts/r1', []],
      ['/t/1?idType=number', '/t/1', [['idType', 'number']]],
      [
        '/t/?n.gt=5&sort=-ts&q=a+b%20c',
        '/t/',
        [
          ['n.gt', '5'],
          ['sort', '-ts'],
          ['q', 'a b c'],
        ],
      ],
      ['/t/a%2Fb', '/t/a%2Fb', []],
      ['/t/../x', '/x', []],
      ['/t/%2e%2E/x', '/x', []],
      ['/t/./x', '/t/x', []],
      ['/t/a#frag', '/t/a', []],
      ['/t/a b', '/t/a%20b', []],
      ['/t\\x', '/t/x', []],
    ];
    for (const [target, pathname, query] of cases) {
      assert.deepEqual(viaParseTarget(target), { pathname, query }, target);
      assert.deepEqual(viaUrl(target), { pathname, query }, `URL itself: ${target}`);
    }
  });
});
