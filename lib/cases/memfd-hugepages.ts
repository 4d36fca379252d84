/** The huge page pools of this machine as sysfs shows them, for requirements and skip reasons of hugetlb memfd cases. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The sysfs directory of one huge page size (exists exactly when the kernel has that hstate). */
export function hugepageDir(sizeKb: number): string {
  return `/sys/kernel/mm/hugepages/hugepages-${sizeKb}kB`;
}

/** free_hugepages minus resv_hugepages of one size (0 when the size does not exist). */
export function availableHugepages(sizeKb: number): number {
  const dir = hugepageDir(sizeKb);
  if (!existsSync(dir)) return 0;
  const read = (f: string) => Number(readFileSync(join(dir, f), 'utf8').trim());
  return read('free_hugepages') - read('resv_hugepages');
}

/** The default huge page size in kB (Hugepagesize in /proc/meminfo), 0 when absent. */
export function defaultHugepageKb(): number {
  const m = /^Hugepagesize:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** A sentence describing the huge page pool of one size, for skip reasons. */
export function hugepagePoolText(sizeKb: number): string {
  const dir = hugepageDir(sizeKb);
  if (!existsSync(dir)) return `no ${sizeKb} kB huge page size on this machine`;
  const read = (f: string) => readFileSync(join(dir, f), 'utf8').trim();
  return `${sizeKb} kB pool: nr_hugepages=${read('nr_hugepages')} free=${read('free_hugepages')} resv=${read('resv_hugepages')} (vm.nr_hugepages=${readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim()}; the suite never reserves huge pages itself)`;
}
