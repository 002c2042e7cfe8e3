import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTmError } from '../src/errors.js';
import { escapeLabelValue, formatValue, METRICS_CONTENT_TYPE, MetricsRegistry } from '../src/metrics.js';

describe('MetricsRegistry', () => {
  it('renders counters with and without labels in declaration order', () => {
    const reg = new MetricsRegistry();
    const plain = reg.counter('tm_receipts_total', 'Receipts received.');
    const byTable = reg.counter('tm_applied_tx_total', 'Applied transactions.', {
      labelNames: ['table', 'origin'],
    });
    byTable.inc(1, { table: 'data.alerts', origin: 'edge1' });
    byTable.inc(2, { origin: 'edge1', table: 'data.alerts' });
    byTable.inc(1, { table: 'data.x', origin: 'edge2' });
    assert.equal(byTable.get({ table: 'data.alerts', origin: 'edge1' }), 3);
    assert.equal(
      reg.render(),
      [
        '# HELP tm_receipts_total Receipts received.',
        '# TYPE tm_receipts_total counter',
        'tm_receipts_total 0',
        '# HELP tm_applied_tx_total Applied transactions.',
        '# TYPE tm_applied_tx_total counter',
        'tm_applied_tx_total{table="data.alerts",origin="edge1"} 3',
        'tm_applied_tx_total{table="data.x",origin="edge2"} 1',
        '',
      ].join('\n'),
    );
    plain.inc();
    plain.inc(4);
    assert.match(reg.render(), /^tm_receipts_total 5$/m);
  });

  it('escapes label values and help text', () => {
    const reg = new MetricsRegistry();
    const g = reg.gauge('tm_held', 'Held tables\nwith a \\ backslash.', { labelNames: ['reason'] });
    g.set(1, { reason: 'say "hi"\\n\nnow' });
    const text = reg.render();
    assert.ok(text.includes('# HELP tm_held Held tables\\nwith a \\\\ backslash.\n'));
    assert.ok(text.includes('tm_held{reason="say \\"hi\\"\\\\n\\nnow"} 1\n'));
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  });

  it('gauges set, inc, dec, and read callbacks at render time', () => {
    const reg = new MetricsRegistry();
    const g = reg.gauge('tm_backlog_entries', 'Outbox entries.', { labelNames: ['table'] });
    g.set(10, { table: 'a' });
    g.inc(5, { table: 'a' });
    g.dec(3, { table: 'a' });
    assert.equal(g.get({ table: 'a' }), 12);
    let connected = 2;
    reg.gauge('tm_connected_nodes', 'Connected nodes.', { collect: () => connected });
    reg.gauge('tm_lag_seconds', 'Feed lag.', {
      labelNames: ['table'],
      collect: () => [
        { labels: { table: 'x' }, value: 0.5 },
        { labels: { table: 'y' }, value: Number.POSITIVE_INFINITY },
      ],
    });
    connected = 3;
    const text = reg.render();
    assert.match(text, /^tm_backlog_entries\{table="a"\} 12$/m);
    assert.match(text, /^tm_connected_nodes 3$/m);
    assert.match(text, /^tm_lag_seconds\{table="x"\} 0\.5$/m);
    assert.match(text, /^tm_lag_seconds\{table="y"\} \+Inf$/m);
  });

  it('a throwing callback leaves only that metric out', () => {
    const reg = new MetricsRegistry();
    reg.gauge('tm_bad', 'Bad.', {
      collect: () => {
        throw new Error('boom');
      },
    });
    reg.counter('tm_good_total', 'Good.').inc();
    assert.equal(reg.render(), '# HELP tm_good_total Good.\n# TYPE tm_good_total counter\ntm_good_total 1\n');
  });

  it('histograms count cumulative buckets, +Inf, sum and count', () => {
    const reg = new MetricsRegistry();
    const h = reg.histogram('tm_lag_ms', 'Lag.', { labelNames: ['table'], buckets: [1, 5, 10] });
    for (const v of [0.5, 1, 3, 7, 50]) h.observe(v, { table: 't' });
    assert.equal(
      reg.render(),
      [
        '# HELP tm_lag_ms Lag.',
        '# TYPE tm_lag_ms histogram',
        'tm_lag_ms_bucket{table="t",le="1"} 2',
        'tm_lag_ms_bucket{table="t",le="5"} 3',
        'tm_lag_ms_bucket{table="t",le="10"} 4',
        'tm_lag_ms_bucket{table="t",le="+Inf"} 5',
        'tm_lag_ms_sum{table="t"} 61.5',
        'tm_lag_ms_count{table="t"} 5',
        '',
      ].join('\n'),
    );
  });

  it('refuses bad names, duplicate metrics, wrong label sets and negative counter steps', () => {
    const reg = new MetricsRegistry();
    const c = reg.counter('ok_total', 'x', { labelNames: ['a'] });
    const bad: Array<() => unknown> = [
      () => reg.counter('1bad', 'x'),
      () => reg.counter('ok_total', 'x'),
      () => reg.gauge('g', 'x', { labelNames: ['__reserved'] }),
      () => reg.gauge('g2', 'x', { labelNames: ['a', 'a'] }),
      () => reg.histogram('h', 'x', { buckets: [5, 1] }),
      () => reg.histogram('h2', 'x', { labelNames: ['le'] }),
      () => c.inc(1, { b: 'x' }),
      () => c.inc(1),
      () => c.inc(-1, { a: 'x' }),
    ];
    for (const fn of bad) assert.throws(fn, (err: unknown) => isTmError(err, 'TM_INVALID_ARGUMENT'));
  });

  it('formats special values and exposes the 0.0.4 content type', () => {
    assert.equal(formatValue(Number.NaN), 'NaN');
    assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
    assert.equal(formatValue(1e21), '1e+21');
    assert.equal(METRICS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(new MetricsRegistry().render(), '');
  });
});
