/* Test driver for session.c and bus.c without libpam (session_test.go).
 *
 *   driver session KEY=VALUE... [-- MODULE-ARGS...]
 *	keys: user service rhost tty nss (the NSS shell; absent: no entry)
 *	silent root (0/1) bus (ok, nosuchuser or failed) record shell recorder
 *	conf rule err; prints "result R", "env NAME=value", "msg error|info
 *	TEXT", "log PRIORITY TEXT" and "decide" when policyd was asked.
 *   driver bus ADDRESS TRUST-UID TIMEOUT-MS USER SERVICE RHOST TTY
 *	prints "ok RECORD|SHELL|RECORDER|CONF|RULE", "nosuchuser ERR" or
 *	"failed ERR".
 *   driver names
 *	prints the names the module shares with Go, one NAME=value a line.
 *   driver parse < RECORDS
 *	reads each record (a u32 little-endian length and that many bytes)
 *	as a byte stream from the bus; prints for each message "msg TYPE
 *	REPLY-SERIAL SENDER" and its body read as Decide's reply ("decision
 *	..." or "error ..."), and "end ERR" at the stream's first failure.
 *   driver call SERIAL DEST ARGS...
 *	writes the method call Decide(ARGS) as the module sends it.
 * It includes bus.c to reach its static functions. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../src/bus.c"
#include "../src/session.h"

static void print_log(void *ctx, int priority, const char *text)
{
	(void)ctx;
	printf("log %d %s\n", priority, text);
}

static void print_message(void *ctx, int error, const char *text)
{
	(void)ctx;
	printf("msg %s %s\n", error ? "error" : "info", text);
}

/* fake is the decision the session command's keys give. */
struct fake {
	enum vbus_result result;
	struct vdecision d;
	const char *err;
};

static enum vbus_result fake_decide(void *ctx, const struct vreq *r, struct vdecision *d, char *err, size_t errlen)
{
	struct fake *f = ctx;

	(void)r;
	printf("decide\n");
	snprintf(err, errlen, "%s", f->err);
	if (f->result == VBUS_OK) {
		d->record = f->d.record;
		d->shell = strdup(f->d.shell);
		d->recorder = strdup(f->d.recorder);
		d->conf = strdup(f->d.conf);
		d->rule = strdup(f->d.rule);
	}
	return f->result;
}

static int session(int argc, char **argv)
{
	struct vreq r = {.user = "", .service = "", .rhost = "", .tty = "", .nss_shell = ""};
	struct fake f = {.d = {.shell = "", .recorder = "", .conf = "", .rule = ""}, .err = ""};
	const struct vsink sink = {print_log, print_message, NULL};
	struct vopts o;
	char *env[VENV_COUNT];
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *v = strchr(argv[i], '=');

		if (v == NULL) {
			fprintf(stderr, "driver: %s: want KEY=VALUE\n", argv[i]);
			return 2;
		}
		*v++ = '\0';
#define KEY(k) (strcmp(argv[i], k) == 0)
		if (KEY("user"))
			r.user = v;
		else if (KEY("service"))
			r.service = v;
		else if (KEY("rhost"))
			r.rhost = v;
		else if (KEY("tty"))
			r.tty = v;
		else if (KEY("nss"))
			r.nss_found = 1, r.nss_shell = v;
		else if (KEY("silent"))
			r.silent = atoi(v);
		else if (KEY("root"))
			r.caller_root = atoi(v);
		else if (KEY("bus"))
			f.result = strcmp(v, "ok") == 0 ? VBUS_OK : strcmp(v, "nosuchuser") == 0 ? VBUS_NO_SUCH_USER : VBUS_FAILED;
		else if (KEY("record"))
			f.d.record = atoi(v);
		else if (KEY("shell"))
			f.d.shell = v;
		else if (KEY("recorder"))
			f.d.recorder = v;
		else if (KEY("conf"))
			f.d.conf = v;
		else if (KEY("rule"))
			f.d.rule = v;
		else if (KEY("err"))
			f.err = v;
		else {
			fprintf(stderr, "driver: unknown key %s\n", argv[i]);
			return 2;
		}
#undef KEY
	}
	if (i < argc)
		i++;
	vopts_parse(&o, argc - i, (const char *const *)argv + i, &sink);
	enum vresult res = vsession_open(&o, &r, fake_decide, &f, &sink, env);
	printf("result %s\n", res == VRES_SUCCESS ? "success" : res == VRES_IGNORE ? "ignore" : "denied");
	for (i = 0; i < VENV_COUNT; i++)
		if (env[i] != NULL)
			printf("env %s\n", env[i]);
	venv_free(env);
	return 0;
}

static int bus(char **argv)
{
	struct vdecision d;
	char err[1024];

	switch (vbus_decide(argv[0], (uint32_t)strtoul(argv[1], NULL, 10), atoi(argv[2]), argv[3], argv[4], argv[5],
			    argv[6], &d, err, sizeof(err))) {
	case VBUS_OK:
		printf("ok %d|%s|%s|%s|%s\n", d.record, d.shell, d.recorder, d.conf, d.rule);
		vdecision_free(&d);
		break;
	case VBUS_NO_SUCH_USER:
		printf("nosuchuser %s\n", err);
		break;
	default:
		printf("failed %s\n", err);
	}
	return 0;
}

/* parse_stream feeds in through a socket pair to read_message (a child
 * process writes what does not fit the socket's buffer), so the reader sees
 * the bus's byte stream as the module does. */
static int parse_stream(const unsigned char *in, size_t n)
{
	int sv[2];
	char err[512] = "";
	pid_t pid;

	fflush(stdout);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	/* What fits into the socket's buffer needs no writer process. */
	pid = n <= 32768 ? 0 : fork();
	if (pid < 0)
		return -1;
	if (n <= 32768) {
		if (write(sv[1], in, n) != (ssize_t)n)
			return -1;
	} else if (pid == 0) {
		close(sv[0]);
		for (size_t off = 0; off < n;) {
			ssize_t w = write(sv[1], in + off, n - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(sv[1]);
	struct conn c = {.fd = sv[0], .err = err, .errlen = sizeof(err)};
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	c.deadline.tv_sec += 10;
	for (;;) {
		struct msg m;
		struct dec args;

		if (read_message(&c, &m) < 0) {
			msg_free(&m);
			break;
		}
		printf("msg %d %u %s\n", m.type, m.reply_serial, m.sender);
		if (args_of(&c, "decide", &m, "bssss", &args, NULL) == 0) {
			int record = get_bool(&args);
			const char *s[4];
			for (int i = 0; i < 4; i++)
				s[i] = get_string(&args);
			if (args.bad)
				printf("bad\n");
			else
				printf("decision %d|%s|%s|%s|%s\n", record, s[0], s[1], s[2], s[3]);
		} else {
			printf("error %s\n", err);
		}
		/* The other bodies the module reads. */
		if (args_of(&c, "s", &m, "s", &args, NULL) == 0)
			get_string(&args);
		if (args_of(&c, "u", &m, "u", &args, NULL) == 0)
			get_u32(&args);
		msg_free(&m);
	}
	printf("end %s\n", err);
	fflush(stdout);
	close(sv[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return 0;
}

/* parse reads records of a u32 little-endian length and that many bytes,
 * each a stream of its own. */
static int parse(void)
{
	unsigned char lenb[4];

	while (fread(lenb, 1, 4, stdin) == 4) {
		size_t n = (size_t)lenb[0] | (size_t)lenb[1] << 8 | (size_t)lenb[2] << 16 | (size_t)lenb[3] << 24;
		unsigned char *in = malloc(n ? n : 1);

		if (in == NULL || fread(in, 1, n, stdin) != n || parse_stream(in, n) < 0)
			return 2;
		free(in);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "parse") == 0)
		return parse();
	if (argc >= 4 && strcmp(argv[1], "call") == 0) {
		struct out b = {0};

		put_call(&b, (uint32_t)strtoul(argv[2], NULL, 10), argv[3], VBUS_PATH, VBUS_INTERFACE, "Decide",
			 argc - 4, (const char *const *)argv + 4);
		fwrite(b.p, 1, b.len, stdout);
		free(b.p);
		return b.oom;
	}
	if (argc >= 2 && strcmp(argv[1], "session") == 0)
		return session(argc - 2, argv + 2);
	if (argc == 9 && strcmp(argv[1], "bus") == 0)
		return bus(argv + 2);
	if (argc == 2 && strcmp(argv[1], "names") == 0) {
		printf("BusName=%s\nPath=%s\nInterface=%s\nErrNoSuchUser=%s\nDefaultSystemBus=%s\n", VBUS_NAME,
		       VBUS_PATH, VBUS_INTERFACE, VBUS_ERR_NO_SUCH_USER, VBUS_DEFAULT_ADDRESS);
		printf("RecShell=%s\nRecConf=%s\nRecService=%s\nTlogSessionShell=%s\nTlogSessionConf=%s\n",
		       VENV_REC_SHELL, VENV_REC_CONF, VENV_REC_SERVICE, VENV_TLOG_SESSION_SHELL, VENV_TLOG_SESSION_CONF);
		printf("SnapshotPath=%s\n", VSNAPSHOT_PATH);
		return 0;
	}
	fprintf(stderr, "usage: driver session KEY=VALUE... [-- ARGS...] | bus ADDRESS UID MS USER SERVICE RHOST TTY | names\n");
	return 2;
}
