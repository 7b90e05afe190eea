import test from 'ava';
import { status } from '@grpc/grpc-js';
import { BerthError, DecodeError, InvalidConfigError, NotFoundError } from '../../../core/errors.js';
import { dockerErrorReply, grpcStatusOf } from '../../../daemon/error-table.js';

test('dockerErrorReply: {"Err": message} with a status per class of error', (t) => {
  t.deepEqual(dockerErrorReply(new InvalidConfigError('Subnet x overlaps y')), { status: 400, body: { Err: 'Subnet x overlaps y' } });
  t.is(dockerErrorReply(new DecodeError('bad')).status, 400);
  t.is(dockerErrorReply(new NotFoundError('gone')).status, 404);
  t.deepEqual(dockerErrorReply(new BerthError('kernel', 'EPERM', { details: 'ip link add' })), { status: 500, body: { Err: 'EPERM (ip link add)' } });
  t.deepEqual(dockerErrorReply(new TypeError('x is undefined')), { status: 500, body: { Err: 'berthd internal error: x is undefined' } });
});

test('grpcStatusOf: invalid input, not found and conflicts are told apart', (t) => {
  t.is(grpcStatusOf(new InvalidConfigError('x')), status.INVALID_ARGUMENT);
  t.is(grpcStatusOf(new NotFoundError('x')), status.NOT_FOUND);
  t.is(grpcStatusOf(new BerthError('exists', 'x')), status.ALREADY_EXISTS);
  t.is(grpcStatusOf(new Error('x')), status.INTERNAL);
});
