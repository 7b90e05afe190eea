import test from 'ava';
import { BerthError, InvalidConfigError, NotAvailableError } from '../../../core/errors.js';
import { exitCodeOf } from '../../../cli/exit-codes.js';
import { renderTable } from '../../../cli/output/table.js';
import { apiSocketPath } from '../../../cli/commands/api-host.js';

test('renderTable: columns padded to the widest cell, three spaces apart, no trailing spaces', (t) => {
  t.is(
    renderTable(
      ['NETWORK ID', 'NAME', 'DRIVER'],
      [
        ['0123456789ab', 'n1', 'bridge'],
        ['ba9876543210', 'a-longer-name', 'nat'],
      ],
    ),
    'NETWORK ID     NAME            DRIVER\n0123456789ab   n1              bridge\nba9876543210   a-longer-name   nat\n',
  );
  t.is(renderTable(['A', 'B'], []), 'A   B\n');
});

test('exitCodeOf: 2 for bad input, 69 when berthd is unreachable, 1 otherwise', (t) => {
  t.is(exitCodeOf(new InvalidConfigError('x')), 2);
  t.is(exitCodeOf(Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' })), 2);
  t.is(exitCodeOf(new NotAvailableError('x')), 69);
  t.is(exitCodeOf(new BerthError('not-found', 'x')), 1);
  t.is(exitCodeOf(new Error('x')), 1);
});

test('apiSocketPath: --host, then BERTH_HOST, then the default; unix:// is optional', (t) => {
  t.is(apiSocketPath('unix:///tmp/a.sock', {}), '/tmp/a.sock');
  t.is(apiSocketPath(undefined, { BERTH_HOST: '/tmp/b.sock' }), '/tmp/b.sock');
  t.is(apiSocketPath(undefined, {}), '/run/berth/berthd.sock');
});
