// Every evidence rule of the feature catalogue names real cases, and each case it names exercises the feature:
// it needs the feature's capability, flag or VM type (so it skips where the kernel lacks it), or, for
// features without one, it belongs to the family the feature is about.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { ROOT } from './helpers.js';
import { globToRegExp, loadInstances } from '../lib/harness/registry.js';
import type { CaseInstance } from '../lib/harness/case.js';
import { FEATURES } from '../lib/features/catalog.js';
import type { FeatureDef } from '../lib/features/feature.js';
import { decideFeature } from '../lib/features/decide.js';
import { loadParity } from '../lib/fixtures/kselftest-parity.js';
import { idSegment } from '../lib/report/import-tap.js';
import type { CaseResult, RunRecord } from '../lib/harness/verdict.js';

const instances = await loadInstances();

/** The ids the importer gives the selftest binaries the parity table lists (runner.sh prints the basename). */
const KSELFTEST_IDS = Object.values(loadParity(join(ROOT, 'fixtures', 'kselftest-parity.yaml')).files).map((f) => {
  const rel = f.path.replace(/^tools\/testing\/selftests\//, '');
  return `kselftest.${idSegment(rel.split('/')[0] as string)}.${idSegment(basename(rel, '.c'))}`;
});

const GMEM_FLAG_BITS: Record<number, string> = { 1: 'GUEST_MEMFD_FLAG_MMAP', 2: 'GUEST_MEMFD_FLAG_INIT_SHARED' };
const VM_TYPE_NAMES: Record<number, string> = {
  1: 'KVM_X86_SW_PROTECTED_VM',
  2: 'KVM_X86_SEV_VM',
  3: 'KVM_X86_SEV_ES_VM',
  4: 'KVM_X86_SNP_VM',
  5: 'KVM_X86_TDX_VM',
};

/** A case instance's requirements, as plain names (the lists compared against the catalog's strings). */
interface Needs {
  caps: readonly string[];
  vmCaps: readonly string[];
  gmemFlags: readonly string[];
  kconfig: readonly string[];
  files: readonly string[];
  vmType?: string;
}

function requiresOf(i: CaseInstance): Needs {
  const a = i.def.requires ?? {};
  const b = i.variant?.requires ?? {};
  const vmType = b.vmType ?? a.vmType;
  return {
    caps: [...(a.caps ?? []), ...(b.caps ?? [])],
    vmCaps: [...(a.vmCaps ?? []), ...(b.vmCaps ?? [])],
    gmemFlags: [...(a.gmemFlags ?? []), ...(b.gmemFlags ?? [])],
    kconfig: [...(a.kconfig ?? []), ...(b.kconfig ?? [])],
    files: [...(a.files ?? []), ...(b.files ?? [])],
    ...(vmType ? { vmType } : {}),
  };
}

const needsCap = (i: CaseInstance, cap: string) => requiresOf(i).caps.includes(cap);

/** For features no capability or VM type advertises: what makes a case one that exercises it. */
const CAPLESS_RULES: Record<string, (i: CaseInstance) => boolean> = {
  'pre_fault.ioctl': (i) => /^prefault\.(args|mmu|eintr)\./.test(i.id),
  memfd: (i) => /^memfd\.(create|io)\./.test(i.id),
  'memfd.seals': (i) => i.id.startsWith('memfd.seals.'),
  'memfd.noexec': (i) => i.id.startsWith('memfd.exec.'),
  // MFD_HUGETLB: a case that creates a hugetlb memfd needs hugetlbfs (CONFIG_HUGETLBFS, or the huge page sizes
  // in /sys/kernel/mm/hugepages that only a hugetlbfs kernel has); one that does not (a huge size encoding without
  // MFD_HUGETLB) is a plain memfd
  'memfd.hugetlb': (i) =>
    i.id.startsWith('memfd.hugetlb.') &&
    (requiresOf(i).kconfig.includes('CONFIG_HUGETLBFS') ||
      requiresOf(i).files.some((f) => f.startsWith('/sys/kernel/mm/hugepages'))),
  'fallocate.eintr.gmem': (i) => i.id.startsWith('eintr.gmem.') && needsCap(i, 'KVM_CAP_GUEST_MEMFD'),
  'fallocate.eintr_progress.gmem': (i) => i.id.startsWith('eintr.gmem.') && needsCap(i, 'KVM_CAP_GUEST_MEMFD'),
  'fallocate.chunked_retry.gmem': (i) => i.id.startsWith('eintr.gmem.') && needsCap(i, 'KVM_CAP_GUEST_MEMFD'),
  'fallocate.eintr.memfd': (i) => i.id.startsWith('eintr.memfd.'),
  'abi.reserved_fields_rejected': (i) => i.id.startsWith('gmem.create.') && needsCap(i, 'KVM_CAP_GUEST_MEMFD'),
  'abi.memslot2_padding_rejected': (i) => i.id.startsWith('memslot.gmem.') && needsCap(i, 'KVM_CAP_USER_MEMORY2'),
};

/** Why a case does not exercise a feature, or null when it does. */
function irrelevance(f: FeatureDef, i: CaseInstance): string | null {
  const r = requiresOf(i);
  if (f.id.startsWith('proposal.'))
    return i.def.id === `proposal.probe.${f.id.slice('proposal.'.length)}` ? null : 'not its probe';
  const missing: string[] = [];
  for (const c of f.caps ?? []) {
    if (c.cap === 'KVM_CAP_GUEST_MEMFD_FLAGS' && c.mask !== undefined) {
      const need = GMEM_FLAG_BITS[c.mask] as string;
      // INIT_SHARED is only valid with MMAP: a case needing it maps the file
      const viaInitShared = need === 'GUEST_MEMFD_FLAG_MMAP' && r.gmemFlags.includes('GUEST_MEMFD_FLAG_INIT_SHARED');
      const has = r.gmemFlags.includes(need) || viaInitShared;
      if (!has) missing.push(need);
    } else if (c.fd === 'vm' ? !r.vmCaps.includes(c.cap) : !r.caps.includes(c.cap) && !r.vmCaps.includes(c.cap)) {
      // a VM-fd capability must be required on the VM: a case needing only /dev/kvm's runs where the VM lacks it
      missing.push(c.fd === 'vm' ? `${c.cap} on the VM fd` : c.cap);
    }
  }
  if (f.vmType !== undefined && r.vmType !== VM_TYPE_NAMES[f.vmType]) missing.push(VM_TYPE_NAMES[f.vmType] as string);
  if (!f.caps?.length && f.vmType === undefined) {
    const rule = CAPLESS_RULES[f.id];
    if (!rule) return 'no capability, VM type or family rule says which cases exercise it (add one to CAPLESS_RULES)';
    if (!rule(i)) return 'outside the cases its family rule allows';
  }
  return missing.length ? `does not require ${missing.join(', ')}` : null;
}

function matching(glob: string): CaseInstance[] {
  const re = globToRegExp(glob);
  return instances.filter((i) => re.test(i.id) || re.test(i.def.id));
}

test('every evidence glob of every feature matches a real case (a kselftest glob: a selftest binary)', () => {
  const dead: string[] = [];
  for (const f of FEATURES) {
    for (const g of [...f.cases, ...(f.excludeCases ?? [])]) {
      const found = g.startsWith('kselftest.')
        ? KSELFTEST_IDS.some((id) => globToRegExp(g).test(id))
        : matching(g).length > 0;
      if (!found) dead.push(`${f.id}: ${g}`);
    }
  }
  assert.deepEqual(dead, []);
});

test('every evidence case exercises its feature: it needs the capability, flag or VM type, or is of its family', () => {
  const wrong: string[] = [];
  for (const f of FEATURES) {
    const excluded = (f.excludeCases ?? []).map(globToRegExp);
    for (const g of f.cases.filter((x) => !x.startsWith('kselftest.'))) {
      const kept = matching(g).filter((i) => !excluded.some((re) => re.test(i.id) || re.test(i.def.id)));
      if (kept.length === 0) wrong.push(`${f.id}: ${g} keeps no case once excludeCases are taken out`);
      for (const i of kept) {
        const why = irrelevance(f, i);
        if (why) wrong.push(`${f.id}: ${i.id} ${why}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

const RUN: RunRecord = {
  type: 'run',
  format: 1,
  suiteVersion: '0',
  started: '2026-01-01T00:00:00Z',
  kernel: '7.2',
  arch: 'x86_64',
  host: 'h',
  platform: 'x86_64',
  options: {},
  kvm: {
    available: true,
    vmTypes: [0],
    sysCaps: { KVM_CAP_GUEST_MEMFD: 1, KVM_CAP_USER_MEMORY2: 1 },
    vmCaps: { KVM_CAP_GUEST_MEMFD: 1 },
  },
} as RunRecord;

function pass(id: string): CaseResult {
  const at = id.indexOf('@');
  const c = at < 0 ? id : id.slice(0, at);
  const family = c.slice(0, c.lastIndexOf('.'));
  return { type: 'result', id, case: c, family, verdict: 'pass', message: '', durationMs: 1 };
}

function feature(id: string): FeatureDef {
  return FEATURES.find((f) => f.id === id) as FeatureDef;
}

test('a plain (non-guest_memfd) memslot is no evidence for guest_memfd features', () => {
  for (const [fid, plain] of [
    ['guest.gmem_backed', 'guest.access.unbacked_userspace_addr'],
    ['memslot2', 'memslot.plain.max_slots'],
    ['memslot2', 'memslot.inuse.delete_while_running'],
  ] as const) {
    const d = decideFeature(feature(fid), RUN, [pass(plain)]);
    assert.equal(d.cases.length, 0, `${plain} counted for ${fid}`);
    assert.equal(d.state, 'untested', `${fid} with only ${plain}: ${d.reason}`);
  }
});

test('the five-kernel run: ENOTTY on the wrong fd (6.1) and the refusal without the VM cap (6.12) prove nothing', () => {
  const wrongFd = [pass('prefault.ioctl.on_vm_fd'), pass('prefault.ioctl.on_system_fd')];
  assert.equal(decideFeature(feature('pre_fault.ioctl'), RUN, wrongFd).state, 'untested');
  const noVmCap = { ...RUN, kvm: { ...RUN.kvm, vmCaps: { KVM_CAP_GUEST_MEMFD: 0 } } } as RunRecord;
  const d = decideFeature(feature('memslot2'), noVmCap, [pass('memslot.gmem.refused_without_vm_cap')]);
  assert.equal(d.state, 'absent', d.reason);
});

test('a non-hugetlb memfd is no evidence for MFD_HUGETLB, a hugetlb one is', () => {
  const hugetlb = (id: string) => decideFeature(feature('memfd.hugetlb'), RUN, [pass(id)]);
  assert.equal(hugetlb('memfd.hugetlb.size_without_hugetlb@huge_2mb').cases.length, 0);
  assert.equal(hugetlb('memfd.hugetlb.initial_state@plain').state, 'present');
});

test('ioctl argument checks prove no pre-faulting, a capability check no memory-fault exit', () => {
  const noCap = { ...RUN, kvm: { ...RUN.kvm, sysCaps: { KVM_CAP_PRE_FAULT_MEMORY: 0 } } } as RunRecord;
  const args = [pass('prefault.args.flags_nonzero'), pass('prefault.mmu.refused_without_cap@anon')];
  assert.equal(decideFeature(feature('pre_fault'), noCap, args).state, 'absent');
  assert.equal(decideFeature(feature('pre_fault.ioctl'), noCap, args).state, 'present');
  const capCheck = [pass('exit.memory_fault.cap_advertised')];
  assert.equal(decideFeature(feature('memory_fault_exit'), RUN, capCheck).cases.length, 0);
  assert.equal(decideFeature(feature('vm_type.sev'), RUN, [pass('coco.create_vm.type@sev')]).cases.length, 0);
});

test('kselftest ids as runner.sh prints them (the basename, no x86/ directory) reach their features', () => {
  const ids = [
    'kselftest.kvm.private_mem_conversions_test',
    'kselftest.kvm.private_mem_kvm_exits_test',
    'kselftest.kvm.pre_fault_memory_test',
  ];
  for (const id of ids) assert.ok(KSELFTEST_IDS.includes(id), `${id} is a binary of the parity table`);
  const hit = (fid: string, id: string) => decideFeature(feature(fid), RUN, [pass(id)]).cases.length === 1;
  assert.ok(hit('memory_attributes', 'kselftest.kvm.private_mem_conversions_test'));
  assert.ok(hit('memory_fault_exit', 'kselftest.kvm.private_mem_kvm_exits_test'));
  assert.ok(hit('memory_attributes', 'kselftest.kvm.x86_private_mem_conversions_test'), 'a runner keeping x86/');
});
