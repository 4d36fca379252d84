/** Requirements are checked in a fixed order and an unmet one becomes an exact SKIP sentence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Env, suiteGuestEvidence } from '../lib/harness/env.js';
import { CAP_CONFIG, VM_TYPE_CONFIG, unmetRequirement, mergeRequires } from '../lib/harness/requirements.js';
import * as U from '../lib/uapi/index.js';
import type { Kvm } from '../lib/kvm/kvm.js';

/** An Env whose machine facts are given, to exercise the requirement logic itself. */
class GivenEnv extends Env {
  constructor(
    private readonly facts: {
      kvm?: boolean;
      sys?: Record<number, number>;
      vm?: Record<number, number>;
      types?: number[];
      kconfig?: Map<string, string> | null;
      /** Where kconfig was read from; default none, so the sentences without a config fact stay as they are. */
      kconfigSource?: string;
      kernel?: [number, number, number];
      avail?: bigint;
      nodes?: number;
      guest?: boolean;
    },
  ) {
    super();
    Object.defineProperty(this, 'inSuiteGuest', { value: facts.guest ?? false });
    if (facts.kernel) Object.defineProperty(this, 'kernel', { value: { release: 'given', parts: facts.kernel } });
  }
  override get kvm(): Kvm | null {
    return this.facts.kvm === false ? null : ({} as Kvm);
  }
  override get kvmUnavailableReason(): string {
    return '/dev/kvm does not exist';
  }
  override sysCap(cap: number): number {
    return this.facts.sys?.[cap] ?? 0;
  }
  override vmCap(cap: number): number {
    return this.facts.vm?.[cap] ?? 0;
  }
  override get vmTypes(): number[] {
    return this.facts.types ?? [0];
  }
  override get kconfig(): Map<string, string> | null {
    return this.facts.kconfig === undefined ? new Map() : this.facts.kconfig;
  }
  override get kconfigSource(): string | null {
    return this.facts.kconfigSource ?? null;
  }
  override meminfo(): Map<string, bigint> {
    return new Map([['MemAvailable', this.facts.avail ?? 1n << 34n]]);
  }
  override get numaNodes(): number {
    return this.facts.nodes ?? 1;
  }
}

test('no /dev/kvm: every KVM requirement names it', () => {
  const env = new GivenEnv({ kvm: false });
  assert.equal(unmetRequirement({ caps: ['KVM_CAP_GUEST_MEMFD'] }, env), 'needs /dev/kvm: /dev/kvm does not exist');
  assert.equal(unmetRequirement({ kvm: true }, env), 'needs /dev/kvm: /dev/kvm does not exist');
  assert.equal(unmetRequirement({}, env), null);
});

test('capabilities on /dev/kvm and on the VM are reported separately with their numbers', () => {
  const env = new GivenEnv({ sys: { 234: 1 }, vm: {} });
  assert.equal(unmetRequirement({ caps: ['KVM_CAP_GUEST_MEMFD'] }, env), null);
  assert.equal(
    unmetRequirement({ caps: ['KVM_CAP_PRE_FAULT_MEMORY'] }, env),
    'needs KVM_CAP_PRE_FAULT_MEMORY (236): KVM_CHECK_EXTENSION on /dev/kvm returned 0',
  );
  assert.equal(
    unmetRequirement({ vmCaps: ['KVM_CAP_GUEST_MEMFD'] }, env),
    'needs KVM_CAP_GUEST_MEMFD (234) on a type-0 VM: KVM_CHECK_EXTENSION on the VM fd returned 0',
  );
});

test('VM types and guest_memfd flags', () => {
  const env = new GivenEnv({ types: [0], vm: { 244: 1 } });
  assert.equal(
    unmetRequirement({ vmType: 'KVM_X86_SNP_VM' }, env),
    'needs VM type KVM_X86_SNP_VM (4): KVM_CAP_VM_TYPES lists only [0]',
  );
  assert.equal(unmetRequirement({ gmemFlags: ['GUEST_MEMFD_FLAG_MMAP'] }, env), null);
  assert.equal(
    unmetRequirement({ gmemFlags: ['GUEST_MEMFD_FLAG_INIT_SHARED'] }, env),
    'needs GUEST_MEMFD_FLAG_INIT_SHARED (0x2): KVM_CAP_GUEST_MEMFD_FLAGS on a type-0 VM is 0x1',
  );
});

test('kernel config, memory, NUMA and host safety', () => {
  assert.match(
    unmetRequirement({ kconfig: ['CONFIG_KVM_SW_PROTECTED_VM'] }, new GivenEnv({ kconfig: null })) ?? '',
    /kernel config is unreadable/,
  );
  assert.equal(
    unmetRequirement(
      { kconfig: ['CONFIG_KVM_SW_PROTECTED_VM'] },
      new GivenEnv({ kconfig: new Map([['CONFIG_KVM_SW_PROTECTED_VM', 'n']]) }),
    ),
    "needs CONFIG_KVM_SW_PROTECTED_VM=y or m (CONFIG_KVM_SW_PROTECTED_VM=n in the running kernel's config)",
  );
  assert.equal(
    unmetRequirement({ kconfig: ['CONFIG_KVM'] }, new GivenEnv({ kconfig: new Map([['CONFIG_KVM', 'm']]) })),
    null,
  );
  assert.equal(
    unmetRequirement({ memoryBytes: 8n << 30n }, new GivenEnv({ avail: 12n << 30n })),
    'needs 8 GiB of memory but MemAvailable is 12 GiB (a case may use at most half)',
  );
  assert.equal(unmetRequirement({ numaNodes: 2 }, new GivenEnv({})), 'needs 2 online NUMA nodes, this machine has 1');
  assert.match(
    unmetRequirement({ hostUnsafe: 'exhausts memory' }, new GivenEnv({})) ?? '',
    /^refused on the host \(exhausts memory\); runs inside a suite guest or with --allow-host-unsafe$/,
  );
  assert.equal(unmetRequirement({ hostUnsafe: 'exhausts memory' }, new GivenEnv({ guest: true })), null);
});

test('a cap or VM type the config gates on: the skip adds the option when the config was read and lacks it', () => {
  // this machine on 2026-12-04: 6.18.44-fc-v1252 without guest_memfd; its config has no KVM_GUEST_MEMFD line at all
  const live = new GivenEnv({
    kernel: [6, 18, 44],
    kconfig: new Map([
      ['CONFIG_KVM', 'y'],
      ['CONFIG_KVM_GENERIC_PRE_FAULT_MEMORY', 'y'],
    ]),
    kconfigSource: '/proc/config.gz',
  });
  assert.equal(
    unmetRequirement({ caps: ['KVM_CAP_GUEST_MEMFD'] }, live),
    'needs KVM_CAP_GUEST_MEMFD (234): KVM_CHECK_EXTENSION on /dev/kvm returned 0 (CONFIG_KVM_GUEST_MEMFD is not set in /proc/config.gz)',
  );
  assert.equal(
    unmetRequirement({ vmCaps: ['KVM_CAP_MEMORY_ATTRIBUTES'] }, live),
    'needs KVM_CAP_MEMORY_ATTRIBUTES (233) on a type-0 VM: KVM_CHECK_EXTENSION on the VM fd returned 0 (CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES is not set in /proc/config.gz)',
  );
  assert.equal(
    unmetRequirement({ vmType: 'KVM_X86_SW_PROTECTED_VM' }, live),
    'needs VM type KVM_X86_SW_PROTECTED_VM (1): KVM_CAP_VM_TYPES lists only [0] (CONFIG_KVM_SW_PROTECTED_VM is not set in /proc/config.gz)',
  );
  // x86 answers KVM_CAP_PRE_FAULT_MEMORY with tdp_enabled, whatever the config: no config fact
  assert.equal(
    unmetRequirement({ caps: ['KVM_CAP_PRE_FAULT_MEMORY'] }, live),
    'needs KVM_CAP_PRE_FAULT_MEMORY (236): KVM_CHECK_EXTENSION on /dev/kvm returned 0',
  );
  // before the 6.18 rename the option is CONFIG_KVM_PRIVATE_MEM; =n counts as not set
  const old = new GivenEnv({
    kernel: [6, 12, 117],
    kconfig: new Map([['CONFIG_KVM_PRIVATE_MEM', 'n']]),
    kconfigSource: '/boot/config-6.12.117',
  });
  assert.equal(
    unmetRequirement({ caps: ['KVM_CAP_GUEST_MEMFD'] }, old),
    'needs KVM_CAP_GUEST_MEMFD (234): KVM_CHECK_EXTENSION on /dev/kvm returned 0 (CONFIG_KVM_PRIVATE_MEM is not set in /boot/config-6.12.117)',
  );
  // GUEST_MEMFD_FLAGS is new in 6.18: on 6.12 the config says nothing about it
  assert.equal(
    unmetRequirement({ caps: ['KVM_CAP_GUEST_MEMFD_FLAGS'] }, old),
    'needs KVM_CAP_GUEST_MEMFD_FLAGS (244): KVM_CHECK_EXTENSION on /dev/kvm returned 0',
  );
});

test('no config fact unless the config was read and the option is absent', () => {
  const plain = 'needs KVM_CAP_GUEST_MEMFD (234): KVM_CHECK_EXTENSION on /dev/kvm returned 0';
  const req = { caps: ['KVM_CAP_GUEST_MEMFD'] } as const;
  // enabled (the cap is 0 for another reason, e.g. a type-0 VM on 6.12): nothing to add
  for (const v of ['y', 'm'])
    assert.equal(
      unmetRequirement(
        req,
        new GivenEnv({
          kernel: [7, 2, 13],
          kconfig: new Map([['CONFIG_KVM_GUEST_MEMFD', v]]),
          kconfigSource: '/proc/config.gz',
        }),
      ),
      plain,
    );
  // the other name enabled (a tree that kept the old symbol): not stated either
  assert.equal(
    unmetRequirement(
      req,
      new GivenEnv({
        kernel: [6, 18, 0],
        kconfig: new Map([['CONFIG_KVM_PRIVATE_MEM', 'y']]),
        kconfigSource: '/proc/config.gz',
      }),
    ),
    plain,
  );
  // unreadable config
  assert.equal(unmetRequirement(req, new GivenEnv({ kernel: [6, 18, 44], kconfig: null })), plain);
  // every gate names a real cap / VM type and a CONFIG_ option
  for (const [name, gates] of Object.entries(CAP_CONFIG)) {
    assert.ok(name in U.KVM_CAPS, name);
    for (const g of gates ?? []) assert.match(g.option, /^CONFIG_[A-Z0-9_]+$/);
  }
  for (const name of Object.keys(VM_TYPE_CONFIG)) assert.ok(name in U.VM_TYPES, name);
});

test('the first unmet requirement wins, in the documented order', () => {
  const env = new GivenEnv({ kvm: false, nodes: 1 });
  assert.equal(
    unmetRequirement({ files: ['/nonexistent/x'], caps: ['KVM_CAP_GUEST_MEMFD'], numaNodes: 2 }, env),
    'needs /nonexistent/x, which does not exist',
  );
});

test('variant requirements add to the case requirements', () => {
  const [a, b, f] = ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_PRE_FAULT_MEMORY', 'GUEST_MEMFD_FLAG_MMAP'] as const;
  assert.deepEqual(mergeRequires({ caps: [a] }, { caps: [b], gmemFlags: [f] }), { caps: [a, b], gmemFlags: [f] });
});

test("GMEM_IN_GUEST=1 on a host unlocks no host-unsafe case: the guest's kernel command line is needed too", () => {
  const saved = process.env.GMEM_IN_GUEST;
  process.env.GMEM_IN_GUEST = '1';
  try {
    assert.doesNotMatch(readFileSync('/proc/cmdline', 'utf8'), /gmem\.suite_guest=1/, 'this test runs on a host');
    assert.match(
      suiteGuestEvidence() ?? '',
      /GMEM_IN_GUEST=1 is set, but this kernel was not booted by the suite's QEMU runner \(no gmem\.suite_guest=1 on \/proc\/cmdline\)/,
    );
    const e = new Env();
    assert.equal(e.inSuiteGuest, false);
    e.allowHostUnsafe = false;
    assert.match(
      unmetRequirement({ hostUnsafe: 'exhausts memory' }, e) ?? '',
      /^refused on the host \(exhausts memory\); .* \(GMEM_IN_GUEST=1 is ignored: this kernel was not booted by the suite's QEMU runner\)$/,
    );
  } finally {
    if (saved === undefined) delete process.env.GMEM_IN_GUEST;
    else process.env.GMEM_IN_GUEST = saved;
  }
});
