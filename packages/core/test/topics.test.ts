import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTmError } from '../src/errors.js';
import { parseTopic, topics } from '../src/topics.js';

test('topics are built as SPEC §6 lays them out and parse back', () => {
  assert.equal(topics.up('edge_a', 'data.alerts'), 'tm/v1/up/edge_a/data.alerts');
  assert.equal(topics.receipt('edge_a'), 'tm/v1/receipt/edge_a');
  assert.equal(topics.sync('edge_a'), 'tm/v1/sync/edge_a');
  assert.equal(topics.catchup('edge_a'), 'tm/v1/catchup/edge_a');
  assert.equal(topics.feed('cloud.thresholds'), 'tm/v1/feed/cloud.thresholds');
  assert.equal(topics.presence('edge_a'), 'tm/v1/presence/edge_a');
  assert.deepEqual(parseTopic('tm/v1/up/edge_a/data.alerts'), {
    kind: 'up',
    node: 'edge_a',
    table: 'data.alerts',
  });
  assert.deepEqual(parseTopic('tm/v1/feed/data.t'), { kind: 'feed', table: 'data.t' });
  assert.deepEqual(parseTopic('tm/v1/receipt/n1'), { kind: 'receipt', node: 'n1' });
});

test('names with / + # $ or NUL never reach a topic', () => {
  for (const bad of ['a/b', 'a+b', '#', '$SYS', 'a\u0000b', '']) {
    assert.throws(
      () => topics.receipt(bad),
      (e: unknown) => isTmError(e, 'TM_INVALID_NAME'),
    );
    assert.throws(
      () => topics.feed(`data.${bad}`),
      (e: unknown) => isTmError(e, 'TM_INVALID_NAME'),
    );
  }
  for (const bad of [
    'tm/v1/up/a',
    'tm/v2/feed/data.t',
    'tm/v1/feed/data.t/x',
    'tm/v1/nope/a',
    'x',
    'tm/v1/up/+/data.t',
  ]) {
    assert.throws(
      () => parseTopic(bad),
      (e: unknown) => isTmError(e, 'TM_INVALID_NAME'),
      bad,
    );
  }
});
