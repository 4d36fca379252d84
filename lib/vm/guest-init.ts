/** The guest's /init (busybox sh): load modules, mount the host root and the results share over 9p, run the job, reboot. */

/** 9p mount tag of the host root (read-only). */
export const ROOT_TAG = 'gmemroot';
/** The kernel command-line word every guest of the suite's QEMU runner boots with; with GMEM_IN_GUEST=1 it lets host-unsafe cases run (lib/harness/env.ts). */
export const SUITE_GUEST_CMDLINE = 'gmem.suite_guest=1';

/** 9p mount tag of the per-boot results share (read-write). */
export const OUT_TAG = 'gmemout';
/** Where the results share appears inside the chroot: job.sh, results.jsonl, ktap.txt, status live there. */
export const GUEST_OUT_DIR = '/run/gmem-out';

/**
 * The init script. Everything it learns goes to init.log on the results share (one "key value" line
 * per event) and, for the console log, to the serial console. It ends with `reboot -f`, which QEMU
 * (-no-reboot) turns into its own exit; a failure anywhere ends the same way, never in a shell.
 */
export const GUEST_INIT = `#!/bin/sh
export PATH=/bin
OUT=
say() {
  echo "gmem-init: $*"
  [ -n "$OUT" ] && echo "$*" >> /out/init.log
}
finish() {
  sync
  reboot -f
  echo o > /proc/sysrq-trigger
  sleep 5
  exit 1
}
fatal() {
  say "fatal $*"
  finish
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
loaded=
failed=
for w in $(cat /proc/cmdline); do
  case "$w" in gmem.hostname=*) hostname "\${w#gmem.hostname=}" ;; esac
done
while read -r m; do
  [ -n "$m" ] || continue
  # the one of kvm_intel/kvm_amd the CPU cannot use would only fail noisily
  case "$m" in
    kvm_intel) grep -qw vmx /proc/cpuinfo || continue ;;
    kvm_amd) grep -qw svm /proc/cpuinfo || continue ;;
  esac
  if err=$(insmod "/lib/modules/$m.ko" 2>&1); then loaded="$loaded $m"; else failed="$failed $m($(echo "$err" | tail -n 1 | tr ' ' '_'))"; fi
done < /modules.order
mkdir -p /out /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ${OUT_TAG} /out || fatal "cannot mount the results share (9p tag ${OUT_TAG})"
OUT=1
say "stage modules"
say "modules-loaded$loaded"
say "modules-failed$failed"
say "kernel $(cat /proc/sys/kernel/osrelease)"
[ -e /dev/kvm ] && say "dev-kvm yes" || say "dev-kvm no"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 ${ROOT_TAG} /newroot || fatal "cannot mount the host root (9p tag ${ROOT_TAG})"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fatal "cannot mount a tmpfs on /run"
mkdir -p /newroot${GUEST_OUT_DIR}
mount -o bind /out /newroot${GUEST_OUT_DIR} || fatal "cannot bind the results share into the root"
# the host's /tmp stays reachable under /run/host-tmp: a project checked out below /tmp (CI's clones)
# is bound back to its own path by the job before it starts
mkdir -p /newroot/run/host-tmp && mount -o bind /newroot/tmp /newroot/run/host-tmp
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || fatal "cannot mount a tmpfs on /tmp"
mount -t proc proc /newroot/proc || fatal "cannot mount /proc"
mount -t sysfs sysfs /newroot/sys || fatal "cannot mount /sys"
mount -t devtmpfs devtmpfs /newroot/dev || fatal "cannot mount /dev"
# devtmpfs has no /dev/fd or stdio links (udev makes them on a full system); cases open /dev/fd/N
[ -e /newroot/dev/fd ] || ln -s /proc/self/fd /newroot/dev/fd
for n in 0:stdin 1:stdout 2:stderr; do [ -e /newroot/dev/\${n#*:} ] || ln -s /proc/self/fd/\${n%%:*} /newroot/dev/\${n#*:}; done
mkdir -p /newroot/dev/shm && mount -t tmpfs tmpfs /newroot/dev/shm
say "stage job-start $(cut -d' ' -f1 /proc/uptime)"
chroot /newroot /bin/sh ${GUEST_OUT_DIR}/job.sh < /dev/null > /out/job.log 2>&1
say "stage job-end $? $(cut -d' ' -f1 /proc/uptime)"
finish
`;

/** Quotes a string for /bin/sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Where a host file is seen inside the guest's chroot: the same path, except below /tmp, which is the
 * guest's own there (the host's is under /run/host-tmp). The node binary can live there: the pinned
 * release sits in the cache, and GMEM_CACHE_DIR may point below /tmp.
 */
export function guestPath(hostPath: string): string {
  return hostPath.startsWith('/tmp/') ? `/run/host-tmp/${hostPath.slice('/tmp/'.length)}` : hostPath;
}

/** The job the guest runs in the chroot: the suite with its output on the share, then the exit status, framed as a file. */
export function jobScript(opts: {
  cwd: string;
  node: string;
  nodeArgs: string[];
  cli: string;
  args: string[];
  env: Record<string, string>;
}): string {
  const env = Object.entries(opts.env)
    .map(([k, val]) => `export ${k}=${shQuote(val)}`)
    .join('\n');
  const out = GUEST_OUT_DIR;
  return `#!/bin/sh
CWD=${shQuote(opts.cwd)}
case "$CWD" in
  /tmp/*) mkdir -p "$CWD" && mount -o bind "/run/host-tmp/\${CWD#/tmp/}" "$CWD" || exit 96 ;;
esac
cd "$CWD" || exit 97
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
${env}
${[guestPath(opts.node), ...opts.nodeArgs, opts.cli].map(shQuote).join(' ')} ${opts.args.map(shQuote).join(' ')} > ${out}/ktap.txt 2> ${out}/stderr.txt
echo $? > ${out}/status.tmp && mv ${out}/status.tmp ${out}/status
`;
}
