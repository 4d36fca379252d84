/*
 * probe-exec: runs a probe program (lib/harness/probe-program.ts writes it) in a process of its own, so that a
 * case can watch a child take SIGBUS, exec another file or share its file table without a Node.js start.
 *
 * It is an interpreter, not a test: it decides nothing. The TypeScript case composes the steps (raw syscall
 * numbers from the generated uapi, addresses of buffers, results of earlier steps), this program performs them
 * in order and reports each one's raw return value and errno on stdout as it finishes, so that a fault in step
 * N leaves the report of steps 0..N-1 and the signal in the wait status. The case judges.
 *
 * Program (argv[1]): one step per line, tokens separated by single spaces; step i is line i.
 *   buf LEN               zeroed buffer of LEN bytes; value: its address
 *   bytes HEX             buffer holding those bytes; value: its address
 *   sys NR A0 .. A5 [!]   syscall(NR, ...); with "!" the program stops (exit 3) when it returns -1
 *   load ADDR OFF         the byte at ADDR+OFF (a fault kills the process)
 *   store ADDR OFF VAL    writes byte VAL at ADDR+OFF; value: VAL
 *   put64 ADDR OFF VAL    writes the 64-bit VAL at ADDR+OFF (a pointer array for execve, say); value: VAL
 *   fill ADDR FROM TO VAL memset of [ADDR+FROM, ADDR+TO); value: TO-FROM
 *   scan ADDR FROM TO VAL first offset in [FROM, TO) whose byte is not VAL, or -1
 *   out ADDR LEN          prints LEN bytes at ADDR as hex (an "O i HEX" line; LEN < 0 prints none); value: LEN
 *   idle_task             clone(CLONE_FILES|CLONE_FS|CLONE_VM) child that waits (memfd_test.c's idle thread)
 *                         and dies with this process; value: its pid
 *   reap PID              SIGKILL and waitpid of an idle task; value: waitpid's return
 *   load32 ADDR OFF       the 32-bit value at ADDR+OFF (an fd pipe2 stored, say)
 *   check_eq A B          value 0 when A == B; otherwise it reports -1 and the program stops (exit 3)
 *   pidns_fork ... block_end
 *                         the steps between run in a child that is pid 1 of a new pid namespace, as
 *                         unshare --pid --fork makes it: a forked helper unshares CLONE_NEWPID (printing
 *                         "N i ERRNO", 0 when it worked) and forks the pid-1 child, whose exit status it
 *                         passes on; the block ends with the child's _exit(0). This process goes on after
 *                         block_end at once; value: the helper's pid (for wait)
 *   wait PID              waitpid(PID); value: the raw wait status
 * Arguments: decimal or 0x-hex integers (negative allowed, taken as 64-bit), $N (value of step N < i),
 * $N+K (that plus K). Output: "READY" once the program parsed, then "R i VALUE ERRNO" per step.
 * Exit: 0 all steps ran, 2 bad program (message on stderr), 3 a "!" step failed.
 * With GMEM_PROBE_PARENT=<pid> in the environment it dies with that process (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_STEPS 256
#define MAX_TOKENS 10
#define IDLE_STACK (64 * 1024)

enum op { OP_BUF, OP_BYTES, OP_SYS, OP_LOAD, OP_STORE, OP_PUT64, OP_FILL, OP_SCAN, OP_OUT, OP_IDLE, OP_REAP, OP_LOAD32, OP_CHECK_EQ, OP_PIDNS_FORK, OP_BLOCK_END, OP_WAIT };

struct arg {
	int step; /* -1: literal */
	int64_t value; /* literal, or the addend to the step's value */
};

struct step {
	enum op op;
	int nargs;
	int must_succeed;
	struct arg args[7];
	unsigned char *data; /* bytes */
	size_t len;
	int block_end; /* pidns_fork: index of its block_end */
};

static struct step steps[MAX_STEPS];
static int64_t values[MAX_STEPS];
static int nsteps;

static void die_program(int line, const char *what, const char *tok)
{
	fprintf(stderr, "probe-exec: line %d: %s%s%s\n", line + 1, what, tok ? ": " : "", tok ? tok : "");
	exit(2);
}

static void emit(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(1, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(4);
		}
		s += w;
		n -= (size_t)w;
	}
}

static int64_t parse_int(int line, const char *tok)
{
	char *end;
	errno = 0;
	int64_t v;
	if (tok[0] == '-')
		v = strtoll(tok, &end, 0);
	else
		v = (int64_t)strtoull(tok, &end, 0);
	if (errno || end == tok || *end)
		die_program(line, "not an integer", tok);
	return v;
}

static struct arg parse_arg(int line, const char *tok)
{
	struct arg a = { -1, 0 };
	if (tok[0] != '$') {
		a.value = parse_int(line, tok);
		return a;
	}
	char *end;
	long n = strtol(tok + 1, &end, 10);
	if (end == tok + 1 || n < 0 || n >= line)
		die_program(line, "a $N argument must name an earlier step", tok);
	a.step = (int)n;
	if (*end == '+')
		a.value = parse_int(line, end + 1);
	else if (*end)
		die_program(line, "bad step reference", tok);
	return a;
}

static int64_t arg_value(const struct arg *a)
{
	return a->step < 0 ? a->value : values[a->step] + a->value;
}

static unsigned char *hex_bytes(int line, const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	if (n % 2)
		die_program(line, "odd number of hex digits", hex);
	unsigned char *p = calloc(n / 2 + 1, 1);
	if (!p)
		die_program(line, "out of memory", NULL);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			die_program(line, "not hex", hex);
		p[i] = (unsigned char)b;
	}
	*len = n / 2;
	return p;
}

static const struct {
	const char *name;
	enum op op;
	int nargs;
} OPS[] = {
	{ "buf", OP_BUF, 1 },	      { "bytes", OP_BYTES, 1 }, { "sys", OP_SYS, -1 }, { "load", OP_LOAD, 2 },
	{ "store", OP_STORE, 3 },     { "put64", OP_PUT64, 3 },     { "fill", OP_FILL, 4 },   { "scan", OP_SCAN, 4 }, { "out", OP_OUT, 2 },
	{ "idle_task", OP_IDLE, 0 }, { "reap", OP_REAP, 1 },	{ "load32", OP_LOAD32, 2 },
	{ "check_eq", OP_CHECK_EQ, 2 }, { "pidns_fork", OP_PIDNS_FORK, 0 }, { "block_end", OP_BLOCK_END, 0 },
	{ "wait", OP_WAIT, 1 },
};

static void parse(char *program)
{
	int open_blocks[MAX_STEPS], depth = 0;
	char *save_line;
	for (char *l = strtok_r(program, "\n", &save_line); l; l = strtok_r(NULL, "\n", &save_line)) {
		if (nsteps == MAX_STEPS)
			die_program(nsteps, "too many steps", NULL);
		char *tok[MAX_TOKENS + 1];
		int n = 0;
		char *save_tok;
		for (char *t = strtok_r(l, " ", &save_tok); t; t = strtok_r(NULL, " ", &save_tok)) {
			if (n == MAX_TOKENS)
				die_program(nsteps, "too many arguments", NULL);
			tok[n++] = t;
		}
		if (!n)
			die_program(nsteps, "empty step", NULL);
		struct step *s = &steps[nsteps];
		if (n > 1 && !strcmp(tok[n - 1], "!")) {
			s->must_succeed = 1;
			n--;
		}
		size_t k;
		for (k = 0; k < sizeof(OPS) / sizeof(OPS[0]); k++)
			if (!strcmp(tok[0], OPS[k].name))
				break;
		if (k == sizeof(OPS) / sizeof(OPS[0]))
			die_program(nsteps, "unknown step", tok[0]);
		s->op = OPS[k].op;
		if (s->op == OP_SYS ? n < 2 || n > 8 : n - 1 != OPS[k].nargs)
			die_program(nsteps, "wrong number of arguments for", tok[0]);
		if (s->op == OP_BYTES) {
			s->data = hex_bytes(nsteps, tok[1], &s->len);
		} else {
			s->nargs = n - 1;
			for (int i = 1; i < n; i++)
				s->args[i - 1] = parse_arg(nsteps, tok[i]);
		}
		if (s->op == OP_PIDNS_FORK)
			open_blocks[depth++] = nsteps;
		if (s->op == OP_BLOCK_END) {
			if (!depth)
				die_program(nsteps, "block_end without pidns_fork", NULL);
			steps[open_blocks[--depth]].block_end = nsteps;
		}
		nsteps++;
	}
	if (depth)
		die_program(open_blocks[depth - 1], "pidns_fork without block_end", NULL);
}

static int wait_status(pid_t pid)
{
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, __WALL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : st;
}

/* The helper of pidns_fork: unshares CLONE_NEWPID, forks pid 1 of the new namespace (which returns 0 to run the
 * block) and exits with that child's status (128 + signal when a signal ended it), as unshare --fork does. */
static pid_t fork_into_new_pid_namespace(int i)
{
	pid_t helper = fork();
	if (helper != 0)
		return helper;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int err = unshare(CLONE_NEWPID) ? errno : 0;
	char line[48];
	int n = snprintf(line, sizeof(line), "N %d %d\n", i, err);
	emit(line, (size_t)n);
	if (err)
		_exit(0);
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		return 0;
	}
	if (child < 0)
		_exit(125);
	int st = wait_status(child);
	_exit(st < 0 ? 126 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static int idle_fn(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		pause();
	return 0;
}

static int64_t run_step(int i, int *err)
{
	struct step *s = &steps[i];
	int64_t a[7] = { 0 };
	for (int k = 0; k < s->nargs; k++)
		a[k] = arg_value(&s->args[k]);
	unsigned char *p = (unsigned char *)(uintptr_t)a[0];
	*err = 0;
	switch (s->op) {
	case OP_BUF: {
		unsigned char *b = calloc((size_t)a[0] + 1, 1);
		if (!b)
			die_program(i, "out of memory", NULL);
		return (int64_t)(uintptr_t)b;
	}
	case OP_BYTES:
		return (int64_t)(uintptr_t)s->data;
	case OP_SYS: {
		errno = 0;
		long r = syscall((long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5], (long)a[6]);
		*err = r == -1 ? errno : 0;
		return r;
	}
	case OP_LOAD:
		return *(volatile unsigned char *)(p + a[1]);
	case OP_STORE:
		*(volatile unsigned char *)(p + a[1]) = (unsigned char)a[2];
		return a[2];
	case OP_PUT64:
		memcpy(p + a[1], &a[2], sizeof(a[2]));
		return a[2];
	case OP_FILL:
		memset(p + a[1], (int)a[3], (size_t)(a[2] - a[1]));
		return a[2] - a[1];
	case OP_SCAN:
		for (int64_t o = a[1]; o < a[2]; o++)
			if (((volatile unsigned char *)p)[o] != (unsigned char)a[3])
				return o;
		return -1;
	case OP_OUT: {
		static const char hex[] = "0123456789abcdef";
		size_t n = a[1] > 0 ? (size_t)a[1] : 0; /* a failed read's -1 prints nothing */
		char *line = malloc(2 * n + 32);
		if (!line)
			die_program(i, "out of memory", NULL);
		int h = snprintf(line, 32, "O %d ", i);
		for (size_t k = 0; k < n; k++) {
			line[h + 2 * k] = hex[p[k] >> 4];
			line[h + 2 * k + 1] = hex[p[k] & 15];
		}
		line[h + 2 * n] = '\n';
		emit(line, (size_t)h + 2 * n + 1);
		free(line);
		return (int64_t)n;
	}
	case OP_IDLE: {
		char *stack = mmap(NULL, IDLE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			*err = errno;
			return -1;
		}
		int pid = clone(idle_fn, stack + IDLE_STACK, CLONE_FILES | CLONE_FS | CLONE_VM | SIGCHLD, NULL);
		*err = pid < 0 ? errno : 0;
		return pid;
	}
	case OP_REAP: {
		kill((pid_t)a[0], SIGKILL);
		int st = wait_status((pid_t)a[0]);
		*err = st < 0 ? errno : 0;
		return st < 0 ? -1 : a[0];
	}
	case OP_LOAD32: {
		int32_t v;
		memcpy(&v, p + a[1], sizeof(v));
		return v;
	}
	case OP_CHECK_EQ:
		return a[0] == a[1] ? 0 : -1;
	case OP_WAIT: {
		int st = wait_status((pid_t)a[0]);
		*err = st < 0 ? errno : 0;
		return st;
	}
	case OP_PIDNS_FORK:
	case OP_BLOCK_END:
		break; /* run by main() */
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: probe-exec PROGRAM\n");
		return 2;
	}
	const char *parent = getenv("GMEM_PROBE_PARENT");
	if (parent) {
		pid_t want = (pid_t)atoi(parent);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != want)
			return 5; /* the parent died before the death signal was armed */
		unsetenv("GMEM_PROBE_PARENT");
	}
	parse(argv[1]);
	emit("READY\n", 6);
	for (int i = 0; i < nsteps; i++) {
		int err = 0;
		if (steps[i].op == OP_BLOCK_END)
			_exit(0); /* only the pid-1 child of a pidns_fork gets here: the parent jumped past */
		if (steps[i].op == OP_PIDNS_FORK) {
			pid_t helper = fork_into_new_pid_namespace(i);
			if (helper == 0)
				continue; /* pid 1 of the new namespace: run the block */
			values[i] = helper;
			err = helper < 0 ? errno : 0;
			char line[96];
			int n = snprintf(line, sizeof(line), "R %d %lld %d\n", i, (long long)values[i], err);
			emit(line, (size_t)n);
			i = steps[i].block_end;
			continue;
		}
		values[i] = run_step(i, &err);
		char line[96];
		int n = snprintf(line, sizeof(line), "R %d %lld %d\n", i, (long long)values[i], err);
		emit(line, (size_t)n);
		if ((steps[i].must_succeed || steps[i].op == OP_CHECK_EQ) && values[i] == -1)
			_exit(3);
	}
	return 0;
}
