/** Fixture rules conditioned on the running kernel's config: they apply only where the config is readable and says so. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Expectations, type Platform } from '../lib/fixtures/expectations.js';
import { InputError } from '../lib/errors.js';
import { useScratchDirs } from './helpers.js';

const scratch = useScratchDirs();
const ID = 'migrate.move_enc_context.bad_source_fd';

function load(text: string): Expectations {
  const dir = scratch('gmem-kcfg-');
  mkdirSync(join(dir, 'expectations'), { recursive: true });
  writeFileSync(join(dir, 'expectations', 'x.yaml'), text);
  return Expectations.load(dir);
}

test('a kconfig rule: y/n/values compared, n also matching an absent option, never applied without a config', () => {
  const e = load(
    `expectations:\n  ${ID}:\n    - when: { kvm_module: kvm_amd }\n      set: { errno: EBADF }\n    - when: { kvm_module: kvm_amd, kconfig: { CONFIG_KVM_AMD_SEV: n } }\n      set: { errno: EINVAL }\n`,
  );
  const amd = (kconfig: Map<string, string> | null): Platform => ({
    kernel: [7, 2, 13],
    arch: 'x86_64',
    kvmModule: 'kvm_amd',
    kconfig,
  });
  assert.equal(e.overrides(`${ID}@memfd`, ID, amd(new Map())).values.errno, 'EINVAL', 'absent option reads as n');
  assert.equal(e.overrides(`${ID}@memfd`, ID, amd(new Map([['CONFIG_KVM_AMD_SEV', 'n']]))).values.errno, 'EINVAL');
  assert.equal(e.overrides(`${ID}@memfd`, ID, amd(new Map([['CONFIG_KVM_AMD_SEV', 'y']]))).values.errno, 'EBADF');
  assert.equal(
    e.overrides(`${ID}@memfd`, ID, amd(null)).values.errno,
    'EBADF',
    'unreadable config: the kconfig rule does not apply',
  );
});

test('a kconfig key that is not a CONFIG_ name is an error at its position', () => {
  assert.throws(
    () => load(`expectations:\n  ${ID}:\n    - when: { kconfig: { KVM_AMD_SEV: y } }\n      set: { errno: EINVAL }\n`),
    (e: Error) => e instanceof InputError && /x\.yaml:3:\d+: .*a CONFIG_ option name/.test(e.message),
  );
});
