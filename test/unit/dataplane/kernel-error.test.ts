import test from 'ava';
import { AlreadyExistsError, KernelError, NotFoundError } from '../../../core/errors.js';
import { errorFromErrno } from '../../../dataplane/linux/kernel-error.js';

const add = { action: 'add link "br0"', command: 'ip link add br0 type bridge' };
const del = { action: 'delete address 10.0.0.1/24 from br0', command: 'ip addr del 10.0.0.1/24 dev br0', removes: true };

test('errorFromErrno() maps EEXIST to AlreadyExistsError with the ip command in the message', (t) => {
  const err = errorFromErrno(17, add);
  t.true(err instanceof AlreadyExistsError);
  t.is(err.message, 'Cannot add link "br0" (ip link add br0 type bridge): File exists');
  t.deepEqual(err.fields, { errno: 17, operation: 'ip link add br0 type bridge' });
  t.is(err.code, 'exists');
});

test('errorFromErrno() maps ENODEV, ENOENT and ESRCH to NotFoundError', (t) => {
  for (const errno of [19, 2, 3]) t.true(errorFromErrno(errno, add) instanceof NotFoundError, String(errno));
});

test('errorFromErrno() maps EADDRNOTAVAIL to NotFoundError only for removals', (t) => {
  t.true(errorFromErrno(99, del) instanceof NotFoundError);
  t.true(errorFromErrno(99, add) instanceof KernelError);
});

test('errorFromErrno() maps anything else to KernelError and appends the kernel detail', (t) => {
  const err = errorFromErrno(95, add, 'Unknown device type');
  t.true(err instanceof KernelError);
  t.is(err.message, 'Cannot add link "br0" (ip link add br0 type bridge): Operation not supported: Unknown device type');
  t.is(err.fields.details, 'Unknown device type');
  t.is(err.fields.errno, 95);
  t.true(errorFromErrno(1, add) instanceof KernelError);
});
