/* libnss_vigil.so.2: passwd lookups for users policyd records, with
 * pw_shell replaced by the recorder; NOTFOUND for everyone else so the next
 * source answers. Contract: policyd/spec/nss.md. Plain C, no threads, no
 * signal handlers, no output, O_CLOEXEC everywhere (design.md section 3).
 *
 * Build (from the repository root):
 *   gcc -O2 -g -fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden \
 *       -Wl,-soname,libnss_vigil.so.2 -o bin/libnss_vigil.so.2 \
 *       nss/src/nss_vigil.c nss/src/snapshot.c nss/src/sock.c
 * Paths: -DVIGIL_SNAPSHOT_PATH='"..."' -DVIGIL_SOCKET_PATH='"..."'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"
#include "sock.h"

#ifndef VIGIL_SNAPSHOT_PATH
#define VIGIL_SNAPSHOT_PATH "/var/lib/vigil/nss.snapshot"
#endif
#ifndef VIGIL_SOCKET_PATH
#define VIGIL_SOCKET_PATH "/run/vigil/nss.sock"
#endif

#define EXPORT __attribute__((visibility("default")))

/* The mapping of the snapshot last seen at cache.path. The host process may
 * call us from several threads, so the cache and every read of the mapping
 * are under the lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int known; /* the identity fields describe the file at path */
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	void *map;
	size_t map_len;
	int valid;
	struct vsnap snap;
} cache;

/* A fork while another thread holds the lock would leave the child unable
 * to resolve users; hold it across fork instead. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_release(void)
{
	pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void init(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

/* Overrides for tests; secure_getenv so setuid programs ignore them (a user
 * must not point su at a snapshot of their own, nor bypass the module). */
static const char *env_or(const char *name, const char *def)
{
	const char *v = secure_getenv(name);

	return v != NULL && *v != '\0' ? v : def;
}

static void drop_cache(void)
{
	if (cache.map != NULL)
		munmap(cache.map, cache.map_len);
	cache.map = NULL;
	cache.known = 0;
	cache.valid = 0;
}

/* Maps the file at path and validates it once. The mapping is kept even
 * when invalid: it pins the inode, so a later file cannot reuse the inode
 * number with the same size and mtime and be mistaken for this one. Files
 * too short to map are invalid whatever their bytes, so reuse is harmless. */
static void remap(const char *path)
{
	struct stat st;
	int fd;

	drop_cache();
	/* O_NONBLOCK: opening a FIFO put at the path must not hang the caller. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (st.st_size >= (off_t)VSNAP_HEADER_SIZE && (uint64_t)st.st_size <= UINT32_MAX) {
			void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

			if (m != MAP_FAILED) {
				cache.map = m;
				cache.map_len = (size_t)st.st_size;
				cache.valid = vsnap_parse(&cache.snap, m, cache.map_len) == 0;
				cache.known = 1;
			}
		} else {
			cache.known = 1;
		}
		if (cache.known) {
			strcpy(cache.path, path);
			cache.dev = st.st_dev;
			cache.ino = st.st_ino;
			cache.size = st.st_size;
			cache.mtim = st.st_mtim;
		}
	}
	close(fd);
}

/* The current snapshot, remapped if the file at the path changed; NULL if
 * missing or invalid. Call with the lock held. */
static const struct vsnap *current_snapshot(void)
{
	const char *path = env_or("VIGIL_NSS_SNAPSHOT", VIGIL_SNAPSHOT_PATH);
	struct stat st;

	if (strlen(path) >= sizeof cache.path || stat(path, &st) != 0) {
		drop_cache();
		return NULL;
	}
	if (!cache.known || cache.dev != st.st_dev || cache.ino != st.st_ino || cache.size != st.st_size ||
	    cache.mtim.tv_sec != st.st_mtim.tv_sec || cache.mtim.tv_nsec != st.st_mtim.tv_nsec ||
	    strcmp(cache.path, path) != 0)
		remap(path);
	return cache.valid ? &cache.snap : NULL;
}

static enum nss_status fill(const struct vigil_entry *e, struct passwd *pw, char *buf, size_t buflen,
			    int *errnop)
{
	const char *src[] = { e->name, e->passwd, e->gecos, e->dir, e->shell };
	char **dst[] = { &pw->pw_name, &pw->pw_passwd, &pw->pw_gecos, &pw->pw_dir, &pw->pw_shell };
	size_t len[5], need = 0;

	for (size_t i = 0; i < 5; i++) {
		len[i] = strlen(src[i]) + 1;
		need += len[i];
	}
	if (need > buflen) {
		/* glibc grows the buffer and retries only on this pair. */
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	for (size_t i = 0; i < 5; i++) {
		memcpy(buf, src[i], len[i]);
		*dst[i] = buf;
		buf += len[i];
	}
	pw->pw_uid = e->uid;
	pw->pw_gid = e->gid;
	return NSS_STATUS_SUCCESS;
}

/* One lookup: by name if name != NULL, else by uid. */
static enum nss_status lookup(const char *name, uint32_t uid, struct passwd *pw, char *buf, size_t buflen,
			      int *errnop)
{
	const struct vsnap *s;
	struct vigil_entry e;
	unsigned char resp[VSOCK_MAX_PAYLOAD];
	enum vsock_result r;
	enum nss_status st;

	/* policyd resolves users through NSS and must not reach itself. */
	if (secure_getenv("VIGIL_NSS_BYPASS") != NULL) {
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}

	pthread_mutex_lock(&lock);
	s = current_snapshot();
	if (s != NULL) {
		enum vsnap_find f = name != NULL ? vsnap_by_name(s, name, &e) : vsnap_by_uid(s, uid, &e);

		if (f == VSNAP_RECORDED) {
			st = fill(&e, pw, buf, buflen, errnop);
			pthread_mutex_unlock(&lock);
			return st;
		}
		if (f == VSNAP_UNRECORDED || (s->flags & VSNAP_FLAG_NOBODY) != 0) {
			pthread_mutex_unlock(&lock);
			*errnop = ENOENT;
			return NSS_STATUS_NOTFOUND;
		}
	}
	pthread_mutex_unlock(&lock);

	if (name != NULL) {
		size_t len = strlen(name);

		/* The protocol cannot carry it, so no recorded user has it. */
		if (len == 0 || len > VSOCK_MAX_NAME) {
			*errnop = ENOENT;
			return NSS_STATUS_NOTFOUND;
		}
		r = vsock_lookup(env_or("VIGIL_NSS_SOCKET", VIGIL_SOCKET_PATH), VSOCK_OP_NAME, name, len, resp, &e);
	} else {
		unsigned char key[4] = { uid & 0xff, uid >> 8 & 0xff, uid >> 16 & 0xff, (unsigned char)(uid >> 24) };

		r = vsock_lookup(env_or("VIGIL_NSS_SOCKET", VIGIL_SOCKET_PATH), VSOCK_OP_UID, key, sizeof key, resp, &e);
	}
	/*
	 * An answer about another uid is a broken daemon, not a user. By name,
	 * policyd answers with the entry NSS gave it, whose name may be the
	 * canonical form of the one asked (SSSD lowercases, or qualifies it):
	 * the root-owned daemon is trusted with that, as glibc trusts sss.
	 */
	if (r == VSOCK_RECORDED && name == NULL && e.uid != uid)
		r = VSOCK_UNAVAIL;
	switch (r) {
	case VSOCK_RECORDED:
		return fill(&e, pw, buf, buflen, errnop);
	case VSOCK_NOT_RECORDED:
		*errnop = ENOENT;
		return NSS_STATUS_NOTFOUND;
	case VSOCK_BUSY:
		/* Not ERANGE: glibc would retry with a bigger buffer. */
		*errnop = EAGAIN;
		return NSS_STATUS_TRYAGAIN;
	default:
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}
}

EXPORT enum nss_status _nss_vigil_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
					     int *errnop)
{
	int saved = errno;
	enum nss_status st = lookup(name, 0, pw, buf, buflen, errnop);

	/* Our syscalls' errno values are noise to the caller; *errnop (which
	 * is &errno in glibc) carries the answer. */
	if (st == NSS_STATUS_SUCCESS)
		errno = saved;
	return st;
}

EXPORT enum nss_status _nss_vigil_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
					     int *errnop)
{
	int saved = errno;
	enum nss_status st = lookup(NULL, uid, pw, buf, buflen, errnop);

	if (st == NSS_STATUS_SUCCESS)
		errno = saved;
	return st;
}

/* Enumeration returns nothing: listing every user is the next source's job,
 * and callers that enumerate (e.g. to fill a user picker) need no shells. */
EXPORT enum nss_status _nss_vigil_setpwent(int stayopen)
{
	(void)stayopen;
	return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_vigil_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
	(void)pw;
	(void)buf;
	(void)buflen;
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

EXPORT enum nss_status _nss_vigil_endpwent(void)
{
	return NSS_STATUS_SUCCESS;
}
