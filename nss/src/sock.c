/* Lookup socket client: one request per connection, nonblocking I/O
 * against a single monotonic deadline, so a stuck or slow daemon costs a
 * caller at most VSOCK_BUDGET_MS. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; 0 when ready, -1 when late. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_by(int fd, const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);

	if (len >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, len + 1);
	for (;;) {
		int64_t left;

		if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1)) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* A nonblocking AF_UNIX connect never goes in progress: EAGAIN
		 * means the listener's backlog is full and only retrying helps. */
		if (errno != EAGAIN)
			return -1;
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		poll(NULL, 0, left < 5 ? (int)left : 5);
	}
}

static int peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred &&
	       cred.uid == 0;
}

static int send_all(int fd, const unsigned char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: the host process may not expect SIGPIPE. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return -1;
		} else if (!(w < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return 0;
}

static int recv_all(int fd, unsigned char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLIN, deadline) != 0)
				return -1;
		} else if (!(r < 0 && errno == EINTR)) {
			return -1; /* EOF or error */
		}
	}
	return 0;
}

/* Entry payload: u32 uid, u32 gid, then exactly five NUL-terminated strings. */
static enum vsock_result parse_entry(const unsigned char *p, size_t len, struct vigil_entry *e)
{
	const char **fields[] = { &e->name, &e->passwd, &e->gecos, &e->dir, &e->shell };
	size_t off = 8;

	if (len < off)
		return VSOCK_UNAVAIL;
	e->flags = VSNAP_ENTRY_RECORDED;
	e->uid = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	e->gid = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const unsigned char *nul = off < len ? memchr(p + off, 0, len - off) : NULL;

		if (nul == NULL)
			return VSOCK_UNAVAIL;
		*fields[i] = (const char *)p + off;
		off = (size_t)(nul - p) + 1;
	}
	return off == len ? VSOCK_RECORDED : VSOCK_UNAVAIL;
}

enum vsock_result vsock_lookup(const char *path, unsigned op, const void *key, size_t key_len,
			       unsigned char *resp, struct vigil_entry *e)
{
	int64_t deadline = now_ms() + VSOCK_BUDGET_MS;
	unsigned char req[8 + VSOCK_MAX_NAME], hdr[8];
	enum vsock_result res = VSOCK_UNAVAIL;
	size_t len;
	int fd;

	if (key_len > VSOCK_MAX_NAME)
		return VSOCK_UNAVAIL;
	memcpy(req, "VGN1", 4);
	req[4] = (unsigned char)op;
	req[5] = 0;
	req[6] = key_len & 0xff;
	req[7] = key_len >> 8 & 0xff;
	memcpy(req + 8, key, key_len);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return VSOCK_UNAVAIL;
	if (connect_by(fd, path, deadline) != 0 || !peer_is_root(fd))
		goto out;
	/*
	 * policyd is up: from here on a failure is not "no daemon" but "no
	 * answer yet", which must not let the next source hand out the real
	 * shell of a user policyd may record (nsswitch: vigil [TRYAGAIN=return]).
	 */
	res = VSOCK_BUSY;
	if (send_all(fd, req, 8 + key_len, deadline) != 0 || recv_all(fd, hdr, sizeof hdr, deadline) != 0)
		goto out;
	len = (size_t)hdr[6] | (size_t)hdr[7] << 8;
	if (memcmp(hdr, "VGN1", 4) != 0 || hdr[5] != 0 || len > VSOCK_MAX_PAYLOAD)
		goto out;
	if (hdr[4] == 1 && len == 0)
		res = VSOCK_NOT_RECORDED;
	else if (hdr[4] == 0 && recv_all(fd, resp, len, deadline) == 0)
		res = parse_entry(resp, len, e);
out:
	close(fd);
	return res;
}
