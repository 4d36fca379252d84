// Unit tests of the guest layer's run helpers (lib/kvm/vcpu-run.ts): a scripted vCPU replays KVM_RUN results and
// exits, and each helper must accept exactly the exit it names and fail with `<what>: expected X, got Y` otherwise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  KVM_EXIT_HLT,
  KVM_EXIT_HYPERCALL,
  KVM_EXIT_IO,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MEMORY_FAULT,
  KVM_EXIT_MMIO,
  KVM_HC_MAP_GPA_RANGE,
} from '../lib/uapi/index.js';
import type { Exit, Vcpu } from '../lib/kvm/vcpu.js';
import { GuestProgram } from '../lib/kvm/guest-program.js';
import {
  UnexpectedExit,
  __runToHlt,
  describeStep,
  expectHlt,
  expectHypercall,
  expectMemoryFault,
  expectMmio,
  expectOut,
  runToHlt,
} from '../lib/kvm/vcpu-run.js';

type Scripted = { ret?: number; errno?: number; exit: Exit };

/** A vCPU whose KVM_RUN replays `steps` in order. */
function scripted(steps: Scripted[]): Vcpu {
  let i = 0;
  let current: Exit = { reason: 0 };
  return {
    __run() {
      const s = steps[i++];
      if (!s) throw new Error('script exhausted');
      current = s.exit;
      return { ret: s.ret ?? 0, errno: s.errno ?? 0 };
    },
    exit: () => current,
  } as unknown as Vcpu;
}

const out = (port: number, byte: number, size = 1): Scripted => ({
  exit: {
    reason: KVM_EXIT_IO,
    io: { direction: KVM_EXIT_IO_OUT, size, port, count: 1, data: Buffer.from([byte, 0, 0, 0].slice(0, size)) },
  },
});
const hlt: Scripted = { exit: { reason: KVM_EXIT_HLT } };
const fault = (flags: bigint, gpa: bigint, size: bigint): Scripted => ({
  ret: -1,
  errno: 14,
  exit: { reason: KVM_EXIT_MEMORY_FAULT, memoryFault: { flags, gpa, size } },
});

describe('vcpu-run', () => {
  it('expectOut returns the byte of a one-byte OUT to the port', () => {
    assert.equal(expectOut(scripted([out(0x10, 0x5a)]), 0x10, 'read'), 0x5a);
  });
  it('expectOut refuses another port, another size, IN, and a failed KVM_RUN, naming what it got', () => {
    assert.throws(() => expectOut(scripted([out(0x11, 1)]), 0x10, 'read'), {
      name: 'UnexpectedExit',
      message: 'read: expected KVM_EXIT_IO OUT port 0x10 size 1, got KVM_EXIT_IO OUT port 0x11 size 1 data <01>',
    });
    assert.throws(
      () => expectOut(scripted([out(0x10, 1, 2)]), 0x10, 'read'),
      /got KVM_EXIT_IO OUT port 0x10 size 2 data <0100>$/,
    );
    const inStep: Scripted = {
      exit: {
        reason: KVM_EXIT_IO,
        io: { direction: KVM_EXIT_IO_IN, size: 1, port: 0x10, count: 1, data: Buffer.from([0]) },
      },
    };
    assert.throws(() => expectOut(scripted([inStep]), 0x10, 'read'), /got KVM_EXIT_IO IN port 0x10/);
    assert.throws(
      () => expectOut(scripted([fault(8n, 0x10000n, 0x1000n)]), 0x10, 'read'),
      /got KVM_RUN failed with EFAULT \(14\), KVM_EXIT_MEMORY_FAULT flags 0x8 gpa 0x10000 size 0x1000$/,
    );
  });
  it('expectHlt and expectMmio accept only their exit', () => {
    expectHlt(scripted([hlt]), 'end');
    assert.throws(() => expectHlt(scripted([out(0x10, 1)]), 'end'), UnexpectedExit);
    const mmio: Scripted = {
      exit: { reason: KVM_EXIT_MMIO, mmio: { physAddr: 0x10010n, len: 1, isWrite: false, data: Buffer.from([0]) } },
    };
    assert.equal(expectMmio(scripted([mmio]), 0x10010n, false, 'load').mmio?.len, 1);
    assert.throws(() => expectMmio(scripted([mmio]), 0x10010n, true, 'store'), {
      message: 'store: expected KVM_EXIT_MMIO write at 0x10010, got KVM_EXIT_MMIO read at 0x10010 len 1',
    });
  });
  it('expectMemoryFault wants EFAULT and every field', () => {
    expectMemoryFault(scripted([fault(8n, 0x10000n, 0x1000n)]), { flags: 8n, gpa: 0x10000n, size: 0x1000n }, 'private');
    assert.throws(
      () =>
        expectMemoryFault(
          scripted([fault(0n, 0x10000n, 0x1000n)]),
          { flags: 8n, gpa: 0x10000n, size: 0x1000n },
          'private',
        ),
      {
        message:
          'private: expected KVM_RUN failed with EFAULT (14), KVM_EXIT_MEMORY_FAULT flags 0x8 gpa 0x10000 size 0x1000, got KVM_RUN failed with EFAULT (14), KVM_EXIT_MEMORY_FAULT flags 0x0 gpa 0x10000 size 0x1000',
      },
    );
    const noErr = { ...fault(8n, 0x10000n, 0x1000n), ret: 0, errno: 0 };
    assert.throws(
      () => expectMemoryFault(scripted([noErr]), { flags: 8n, gpa: 0x10000n, size: 0x1000n }, 'private'),
      UnexpectedExit,
    );
  });
  it('expectHypercall decodes KVM_HC_MAP_GPA_RANGE', () => {
    const hc: Scripted = {
      exit: {
        reason: KVM_EXIT_HYPERCALL,
        hypercall: { nr: BigInt(KVM_HC_MAP_GPA_RANGE), args: [0x10000n, 1n, 16n, 0n, 0n, 0n], flags: 0n },
      },
    };
    assert.deepEqual(expectHypercall(scripted([hc]), KVM_HC_MAP_GPA_RANGE, 'convert').hypercall.args.slice(0, 3), [
      0x10000n,
      1n,
      16n,
    ]);
    assert.equal(
      describeStep({ ...hc.exit, ret: 0, errno: 0 }),
      'KVM_EXIT_HYPERCALL nr 12 args [0x10000, 0x1, 0x10, 0x0, 0x0, 0x0]',
    );
    assert.throws(() => expectHypercall(scripted([hlt]), KVM_HC_MAP_GPA_RANGE, 'convert'), {
      message: 'convert: expected KVM_EXIT_HYPERCALL nr 12, got KVM_EXIT_HLT',
    });
  });
  it('runToHlt collects OUTs until HLT; any other exit or no HLT within the bound fails', () => {
    assert.deepEqual(runToHlt(scripted([out(0x20, 1), out(0x21, 2), hlt]), 'guest'), [
      [0x20, 1],
      [0x21, 2],
    ]);
    assert.throws(() => runToHlt(scripted([out(0x20, 1), fault(0n, 0x10000n, 0x1000n)]), 'guest'), {
      message:
        'guest: after 1 OUT exits: expected OUT or KVM_EXIT_HLT, got KVM_RUN failed with EFAULT (14), KVM_EXIT_MEMORY_FAULT flags 0x0 gpa 0x10000 size 0x1000',
    });
    assert.throws(() => runToHlt(scripted([out(0x20, 1), out(0x20, 2), out(0x20, 3)]), 'guest', 3), {
      message:
        'guest: expected KVM_EXIT_HLT within 3 exits, got OUT 0x20=0x1, OUT 0x20=0x2, KVM_EXIT_IO OUT port 0x20 size 1 data <03>',
    });
    const t = __runToHlt(
      scripted([
        out(0x10, 0xaa),
        {
          exit: { reason: KVM_EXIT_MMIO, mmio: { physAddr: 0x10000n, len: 1, isWrite: false, data: Buffer.from([0]) } },
        },
      ]),
    );
    assert.equal(t.halted, false);
    assert.deepEqual(t.outs, [[0x10, 0xaa]]);
  });
  it('a KVM_HC_MAP_GPA_RANGE call in GuestProgram: EAX, EBX, ECX, EDX as 32-bit immediates, then vmcall', () => {
    const p = new GuestProgram()
      .movImm32('eax', KVM_HC_MAP_GPA_RANGE)
      .movImm32('ebx', 0x10000)
      .movImm32('ecx', 1)
      .movImm32('edx', 16);
    assert.equal(
      p.hypercall(false).bytes().toString('hex'),
      '66b80c000000' + '66bb00000100' + '66b901000000' + '66ba10000000' + '0f01c1',
    );
  });
});
