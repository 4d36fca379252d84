/*
 * The C baseline of bench/ioctl.ts: the same ioctl loops, compiled on the spot with gcc -O2 by
 * bench/bench.ts. Request numbers come from the command line (the suite's own generated uapi
 * tables), so both sides issue exactly the same calls.
 *
 *   ioctl-loop <batches> <check-iters> <gmem-iters> <KVM_CHECK_EXTENSION> <cap> <KVM_CREATE_VM> <KVM_CREATE_GUEST_MEMFD>
 *
 * Prints one JSON line: for each batch, ns per KVM_CHECK_EXTENSION on /dev/kvm (check-iters calls)
 * and ns per KVM_CREATE_GUEST_MEMFD(4096, 0) + close() pair on a type-0 VM (gmem-iters pairs).
 * The two loops alternate batch by batch, as bench/ioctl.ts does, so noise hits both alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* struct kvm_create_guest_memfd: size, flags, reserved[6] (64 bytes). */
struct create_gmem {
	uint64_t size;
	uint64_t flags;
	uint64_t reserved[6];
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static unsigned long arg(char **argv, int i)
{
	return strtoul(argv[i], NULL, 0);
}

static double check_batch(int kvm, unsigned long check_req, unsigned long cap, int expect, long iters)
{
	double t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		if (ioctl(kvm, check_req, cap) != expect) {
			fprintf(stderr, "KVM_CHECK_EXTENSION changed its answer\n");
			exit(1);
		}
	}
	return (now_ns() - t0) / (double)iters;
}

static double gmem_batch(int vm, unsigned long create_gmem, long iters)
{
	struct create_gmem req = { .size = 4096, .flags = 0 };
	double t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		int fd = ioctl(vm, create_gmem, &req);
		if (fd < 0) {
			fprintf(stderr, "KVM_CREATE_GUEST_MEMFD: %s\n", strerror(errno));
			exit(1);
		}
		close(fd);
	}
	return (now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: %s batches check-iters gmem-iters KVM_CHECK_EXTENSION cap KVM_CREATE_VM KVM_CREATE_GUEST_MEMFD\n", argv[0]);
		return 2;
	}
	long batches = (long)arg(argv, 1), check_iters = (long)arg(argv, 2), gmem_iters = (long)arg(argv, 3);
	unsigned long check_req = arg(argv, 4), cap = arg(argv, 5), create_vm = arg(argv, 6), create_gmem = arg(argv, 7);
	if (batches < 1 || batches > 1000) {
		fprintf(stderr, "batches must be 1..1000\n");
		return 2;
	}
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "open /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int expect = ioctl(kvm, check_req, cap);
	int vm = ioctl(kvm, create_vm, 0UL);
	if (vm < 0) {
		fprintf(stderr, "KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	check_batch(kvm, check_req, cap, expect, check_iters / 10); /* warm-up */
	gmem_batch(vm, create_gmem, gmem_iters / 10);
	double check_ns[1000], gmem_ns[1000];
	for (long b = 0; b < batches; b++) {
		check_ns[b] = check_batch(kvm, check_req, cap, expect, check_iters);
		gmem_ns[b] = gmem_batch(vm, create_gmem, gmem_iters);
	}
	close(vm);
	close(kvm);
	printf("{\"answer\":%d,\"checkExtensionNs\":[", expect);
	for (long b = 0; b < batches; b++)
		printf("%s%.1f", b ? "," : "", check_ns[b]);
	printf("],\"gmemCreateCloseNs\":[");
	for (long b = 0; b < batches; b++)
		printf("%s%.1f", b ? "," : "", gmem_ns[b]);
	printf("]}\n");
	return 0;
}
