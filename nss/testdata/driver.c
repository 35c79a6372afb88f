/* Test driver for libnss_vigil.so.2 (nss/nss_test.go).
 *
 * usage: driver 'vigil files'   (the passwd lookup order, set in-process)
 * Reads one command per line from stdin and answers one line each:
 *   nss name NAME BUFLEN | nss uid UID BUFLEN
 *       getpwnam_r/getpwuid_r through glibc with that order:
 *       "nss rc=N found|none us=T [uid:gid:name:passwd:gecos:dir:shell]"
 *   direct name NAME BUFLEN | direct uid UID BUFLEN
 *       the module's own function, to see its exact status:
 *       "direct status=S errno=N us=T [entry]"
 *   enum
 *       the module's setpwent/getpwent_r/endpwent: "enum status=S"
 *   secure
 *       "secure N", N = getauxval(AT_SECURE): whether the loader treats
 *       us as setuid (the module must then ignore its env overrides)
 *   stress THREADS ITERS NAME
 *       THREADS threads look NAME up ITERS times while the main thread
 *       forks children that look it up too (the fork must never find the
 *       module's lock held): "stress ok" or "stress FAIL reason".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef enum nss_status (*byname_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*byuid_fn)(uid_t, struct passwd *, char *, size_t, int *);

typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*getent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*endent_fn)(void);

static byname_fn mod_byname;
static byuid_fn mod_byuid;
static setent_fn mod_setent;
static getent_fn mod_getent;
static endent_fn mod_endent;

static void load_module(void)
{
	void *h;

	if (mod_byname != NULL)
		return;
	h = dlopen("libnss_vigil.so.2", RTLD_NOW);
	if (h == NULL) {
		printf("dlopen: %s\n", dlerror());
		exit(2);
	}
	mod_byname = (byname_fn)dlsym(h, "_nss_vigil_getpwnam_r");
	mod_byuid = (byuid_fn)dlsym(h, "_nss_vigil_getpwuid_r");
	mod_setent = (setent_fn)dlsym(h, "_nss_vigil_setpwent");
	mod_getent = (getent_fn)dlsym(h, "_nss_vigil_getpwent_r");
	mod_endent = (endent_fn)dlsym(h, "_nss_vigil_endpwent");
	if (!mod_byname || !mod_byuid || !mod_setent || !mod_getent || !mod_endent) {
		printf("dlsym: %s\n", dlerror());
		exit(2);
	}
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *status_name(enum nss_status s)
{
	switch (s) {
	case NSS_STATUS_SUCCESS: return "SUCCESS";
	case NSS_STATUS_NOTFOUND: return "NOTFOUND";
	case NSS_STATUS_UNAVAIL: return "UNAVAIL";
	case NSS_STATUS_TRYAGAIN: return "TRYAGAIN";
	default: return "OTHER";
	}
}

static void print_pw(const struct passwd *pw)
{
	printf(" %u:%u:%s:%s:%s:%s:%s", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, pw->pw_name, pw->pw_passwd,
	       pw->pw_gecos, pw->pw_dir, pw->pw_shell);
}

static void lookup(const char *via, const char *kind, const char *key, size_t buflen)
{
	struct passwd pw, *res = NULL;
	/* Exactly buflen bytes on the heap, so a sanitizer sees any overrun. */
	char *buf = malloc(buflen ? buflen : 1);
	int by_uid = strcmp(kind, "uid") == 0;
	uid_t uid = by_uid ? (uid_t)strtoul(key, NULL, 10) : 0;
	long long t0 = now_us(), t1;

	if (strcmp(via, "nss") == 0) {
		int rc = by_uid ? getpwuid_r(uid, &pw, buf, buflen, &res) : getpwnam_r(key, &pw, buf, buflen, &res);

		t1 = now_us();
		printf("nss rc=%d %s us=%lld", rc, res ? "found" : "none", t1 - t0);
		if (res)
			print_pw(res);
	} else {
		int err = 0;
		enum nss_status st;

		load_module();
		st = by_uid ? mod_byuid(uid, &pw, buf, buflen, &err) : mod_byname(key, &pw, buf, buflen, &err);
		t1 = now_us();
		printf("direct status=%s errno=%d us=%lld", status_name(st), st == NSS_STATUS_SUCCESS ? 0 : err, t1 - t0);
		if (st == NSS_STATUS_SUCCESS)
			print_pw(&pw);
	}
	printf("\n");
	free(buf);
}

static void enumerate(void)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;
	enum nss_status set, get, end;

	load_module();
	set = mod_setent(0);
	get = mod_getent(&pw, buf, sizeof buf, &err);
	end = mod_endent();
	printf("enum set=%s get=%s errno=%d end=%s\n", status_name(set), status_name(get), err, status_name(end));
}

struct stress_arg {
	const char *name;
	long iters;
	const char *fail; /* the first status other than SUCCESS */
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	char buf[1024];
	struct passwd pw;

	for (long i = 0; i < a->iters; i++) {
		int err;
		enum nss_status st = mod_byname(a->name, &pw, buf, sizeof buf, &err);

		if (st != NSS_STATUS_SUCCESS && a->fail == NULL)
			a->fail = status_name(st);
	}
	return NULL;
}

static void stress(int threads, long iters, const char *name)
{
	pthread_t t[64];
	struct stress_arg a[64];
	char forks[128] = "";

	load_module();
	if (threads > 64)
		threads = 64;
	for (int i = 0; i < threads; i++) {
		a[i] = (struct stress_arg){ .name = name, .iters = iters };
		pthread_create(&t[i], NULL, stress_thread, &a[i]);
	}
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		int ws;

		if (pid == 0) {
			char buf[1024];
			struct passwd pw;
			int err;

			/* A child stuck on the lock is killed by alarm and counts as failed. */
			alarm(5);
			_exit(10 + mod_byname(name, &pw, buf, sizeof buf, &err));
		}
		if (pid < 0 || waitpid(pid, &ws, 0) != pid)
			snprintf(forks, sizeof forks, "fork or wait failed");
		else if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 10 + NSS_STATUS_SUCCESS)
			snprintf(forks, sizeof forks, "forked child: wait status %#x", ws);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < threads; i++)
		if (a[i].fail != NULL) {
			printf("stress FAIL thread %d got %s\n", i, a[i].fail);
			return;
		}
	if (forks[0] != '\0')
		printf("stress FAIL %s\n", forks);
	else
		printf("stress ok\n");
}

int main(int argc, char **argv)
{
	char line[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: driver 'vigil files'\n");
		return 2;
	}
	if (__nss_configure_lookup("passwd", argv[1]) != 0) {
		printf("__nss_configure_lookup failed\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin) != NULL) {
		char a[64], b[64], key[1024];
		long n1, n2;

		if (sscanf(line, "stress %ld %ld %1023s", &n1, &n2, key) == 3)
			stress((int)n1, n2, key);
		else if (sscanf(line, "%63s %63s %1023s %ld", a, b, key, &n1) == 4)
			lookup(a, b, key, (size_t)n1);
		else if (strcmp(line, "enum\n") == 0)
			enumerate();
		else if (strcmp(line, "secure\n") == 0)
			printf("secure %lu\n", getauxval(AT_SECURE));
		else if (strcmp(line, "quit\n") == 0)
			break;
		else
			printf("bad command\n");
	}
	return 0;
}
