// Typed names (issue 16 item 4): errno, capability, VM type, guest_memfd flag and syscall names are the
// generated tables' keys, so a misspelt one in a case does not compile. Each `@ts-expect-error` below is
// the test: if a signature went back to `string`, the directive would be unused and tsc (npm run lint,
// the build) would fail. The runtime half checks the tables behind the types.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { defineCase, type Requires } from '../lib/harness/case.js';
import { expectErrno, expectErrnoOneOf, outcomeName, HarnessError } from '../lib/harness/expect.js';
import {
  ERRNO,
  GUEST_MEMFD_FLAGS,
  KVM_CAPS,
  KVM_CAP_GUEST_MEMFD,
  KVM_X86_SW_PROTECTED_VM,
  SYSCALL,
  VM_TYPES,
  errnoValue,
  isErrnoName,
  type ErrnoName,
  type SyscallName,
} from '../lib/uapi/index.js';

/** Never called: the statements exist for tsc. */
function misspeltNamesDoNotCompile(): void {
  const r = { ret: -1, errno: 22 };
  // @ts-expect-error EINVALL is not an errno name
  expectErrno(r, 'EINVALL', 'typo');
  // @ts-expect-error nor is ENOTAERRNO, in a list
  expectErrnoOneOf(r, ['EINVAL', 'ENOTAERRNO'], 'typo');
  // @ts-expect-error an unknown capability
  const caps: Requires = { caps: ['KVM_CAP_GUEST_MEMFDD'] };
  // @ts-expect-error an unknown capability on the VM fd
  const vmCaps: Requires = { vmCaps: ['KVM_CAP_PRE_FAULT'] };
  // @ts-expect-error an unknown VM type
  const vmType: Requires = { vmType: 'KVM_X86_SEV_SNP_VM' };
  // @ts-expect-error an unknown guest_memfd flag
  const gmemFlags: Requires = { gmemFlags: ['GUEST_MEMFD_FLAG_SHARED'] };
  // @ts-expect-error an unknown syscall
  const nr: SyscallName = 'memfd_creat';
  defineCase({
    id: 'unit.typed.names',
    doc: 'never registered',
    // @ts-expect-error a requirement inside defineCase is checked the same way
    requires: { caps: ['KVM_CAP_NOPE'] },
    run() {},
  });
  void [caps, vmCaps, vmType, gmemFlags, nr];
}
void misspeltNamesDoNotCompile;

test('the name tables hold the values of the constants they name', () => {
  assert.equal(KVM_CAPS.KVM_CAP_GUEST_MEMFD, KVM_CAP_GUEST_MEMFD);
  assert.equal(VM_TYPES.KVM_X86_SW_PROTECTED_VM, KVM_X86_SW_PROTECTED_VM);
  assert.equal(GUEST_MEMFD_FLAGS.GUEST_MEMFD_FLAG_MMAP, 1);
  assert.equal(SYSCALL.memfd_create, 319);
  assert.ok(Object.keys(KVM_CAPS).length > 200, 'every KVM_CAP_* of linux/kvm.h');
  assert.ok(Object.keys(KVM_CAPS).every((k) => k.startsWith('KVM_CAP_')));
  assert.equal(errnoValue('EINVAL'), ERRNO.EINVAL);
});

test('names that arrive as data are checked against the same tables', () => {
  assert.equal(isErrnoName('EINVAL'), true);
  assert.equal(isErrnoName('EINVALL'), false);
  const want: 'OK' | ErrnoName = outcomeName('EBUSY', ['OK']);
  assert.equal(want, 'EBUSY');
  assert.equal(outcomeName('OK', ['OK']), 'OK');
  assert.throws(() => outcomeName('EBUSYY', ['OK']), HarnessError);
});
