/* The D-Bus wire protocol (D-Bus specification, "Message Protocol" and
 * "Authentication Protocol") as far as vbus_decide needs it: method calls
 * with string arguments out; returns, errors and anything else in. Offsets
 * and alignment count from the start of each message. Every wait is bounded
 * by the call's deadline through SO_RCVTIMEO/SO_SNDTIMEO, on the calling
 * thread. */
#define _GNU_SOURCE
#include "bus.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"

enum { TYPE_CALL = 1, TYPE_RETURN = 2, TYPE_ERROR = 3 };
enum {
	FIELD_PATH = 1,
	FIELD_INTERFACE = 2,
	FIELD_MEMBER = 3,
	FIELD_ERROR_NAME = 4,
	FIELD_REPLY_SERIAL = 5,
	FIELD_DESTINATION = 6,
	FIELD_SENDER = 7,
	FIELD_SIGNATURE = 8,
};

/* The replies waited for are a few hundred bytes; anything bigger (a signal
 * someone sent us) is skipped unread rather than buffered. */
#define MAX_MESSAGE (1u << 20)

/* Names and signatures are at most 255 bytes (the specification's limit). */
#define NAME_MAX_LEN 255

void vdecision_free(struct vdecision *d)
{
	free(d->shell);
	free(d->recorder);
	free(d->conf);
	free(d->rule);
	memset(d, 0, sizeof(*d));
}

/* out is a growing byte buffer; oom is sticky. */
struct out {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void put(struct out *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap - b->len < n)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_u32_at(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void put_u32(struct out *b, uint32_t v)
{
	unsigned char le[4];

	put_u32_at(le, v);
	put(b, le, 4);
}

/* pad appends zeros up to a multiple of n from start. */
static void pad(struct out *b, size_t start, size_t n)
{
	static const unsigned char zeros[8];

	put(b, zeros, (n - (b->len - start) % n) % n);
}

static void put_string(struct out *b, size_t start, const char *s)
{
	size_t n = strlen(s);

	pad(b, start, 4);
	put_u32(b, (uint32_t)n);
	put(b, s, n + 1);
}

/* put_field appends a header field whose variant holds v of type typ
 * ('s', 'o' or 'g'). */
static void put_field(struct out *b, size_t start, unsigned char code, char typ, const char *v)
{
	unsigned char head[4] = {code, 1, (unsigned char)typ, 0};

	pad(b, start, 8);
	put(b, head, 4);
	if (typ == 'g') {
		unsigned char n = (unsigned char)strlen(v);

		put(b, &n, 1);
		put(b, v, (size_t)n + 1);
		return;
	}
	put_string(b, start, v);
}

/* put_call appends a little-endian method call with nargs string
 * arguments (at most 4). */
static void put_call(struct out *b, uint32_t serial, const char *dest, const char *path, const char *iface,
		     const char *member, int nargs, const char *const *args)
{
	static const unsigned char head[4] = {'l', TYPE_CALL, 0, 1};
	static const char sig[] = "ssss";
	size_t start = b->len, fields, body;

	put(b, head, 4);
	put_u32(b, 0); /* body length, set below */
	put_u32(b, serial);
	put_u32(b, 0); /* header fields' length, set below */
	fields = b->len;
	put_field(b, start, FIELD_PATH, 'o', path);
	put_field(b, start, FIELD_INTERFACE, 's', iface);
	put_field(b, start, FIELD_MEMBER, 's', member);
	put_field(b, start, FIELD_DESTINATION, 's', dest);
	if (nargs > 0)
		put_field(b, start, FIELD_SIGNATURE, 'g', sig + (sizeof(sig) - 1 - (size_t)nargs));
	if (b->oom)
		return;
	put_u32_at(b->p + start + 12, (uint32_t)(b->len - fields));
	pad(b, start, 8);
	body = b->len;
	for (int i = 0; i < nargs; i++)
		put_string(b, start, args[i]);
	if (!b->oom)
		put_u32_at(b->p + start + 4, (uint32_t)(b->len - body));
}

/* conn is a blocking unix socket to the bus, every wait bounded by deadline;
 * the first failure is kept in err. */
struct conn {
	int fd;
	struct timespec deadline;
	unsigned char in[4096];
	size_t in_off, in_len;
	struct out out;
	uint32_t serial;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct conn *c, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsnprintf(c->err, c->errlen, format, ap);
	va_end(ap);
	return -1;
}

/* set_timeout sets the socket timeout opt to what is left until the
 * deadline, rounded up (a zero timeout would be none). */
static int set_timeout(struct conn *c, int opt)
{
	struct timespec now;
	struct timeval tv;
	long long left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (c->deadline.tv_sec - now.tv_sec) * 1000000000LL + (c->deadline.tv_nsec - now.tv_nsec);
	if (left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	left = (left + 999) / 1000;
	tv.tv_sec = left / 1000000;
	tv.tv_usec = left % 1000000;
	return setsockopt(c->fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* io_error names errno, a timeout as such. */
static const char *io_error(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT || e == EINPROGRESS ? "timed out" : strerror(e);
}

static int conn_connect(struct conn *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	socklen_t len;

	if (n >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0'; /* abstract: the name is the bytes after it, no terminator */
		len--;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	for (;;) {
		if (set_timeout(c, SO_SNDTIMEO) < 0)
			break;
		if (connect(c->fd, (struct sockaddr *)&sa, len) == 0)
			return 0;
		if (errno != EINTR)
			break;
	}
	int e = errno;
	close(c->fd);
	c->fd = -1;
	errno = e;
	return -1;
}

static int flush(struct conn *c)
{
	size_t off = 0;

	if (c->out.oom)
		return fail(c, "out of memory");
	while (off < c->out.len) {
		if (set_timeout(c, SO_SNDTIMEO) < 0)
			return fail(c, "send: %s", io_error(errno));
		ssize_t n = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(c, "send: %s", io_error(errno));
		off += (size_t)n;
	}
	c->out.len = 0;
	return 0;
}

/* fill reads what the socket has into the empty input buffer. */
static int fill(struct conn *c)
{
	for (;;) {
		if (set_timeout(c, SO_RCVTIMEO) < 0)
			return fail(c, "receive: %s", io_error(errno));
		ssize_t n = read(c->fd, c->in, sizeof(c->in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(c, "receive: %s", io_error(errno));
		if (n == 0)
			return fail(c, "receive: the bus closed the connection");
		c->in_off = 0;
		c->in_len = (size_t)n;
		return 0;
	}
}

/* take reads n bytes into p, or skips them if p is NULL. */
static int take(struct conn *c, void *p, size_t n)
{
	while (n > 0) {
		if (c->in_off == c->in_len && fill(c) < 0)
			return -1;
		size_t k = c->in_len - c->in_off;
		if (k > n)
			k = n;
		if (p != NULL) {
			memcpy(p, c->in + c->in_off, k);
			p = (unsigned char *)p + k;
		}
		c->in_off += k;
		n -= k;
	}
	return 0;
}

/* read_line reads the server's authentication reply line. */
static int read_line(struct conn *c, char *line, size_t cap)
{
	size_t n = 0;

	for (;;) {
		char ch;

		if (take(c, &ch, 1) < 0)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 >= cap)
			return fail(c, "authentication: reply line too long");
		line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* dec reads D-Bus values from b at off; bad is sticky. */
struct dec {
	const unsigned char *b;
	size_t len, off;
	int big;
	int bad;
};

static const unsigned char *next(struct dec *d, size_t n)
{
	if (d->bad || n > d->len - d->off) {
		d->bad = 1;
		return NULL;
	}
	d->off += n;
	return d->b + d->off - n;
}

static void align(struct dec *d, size_t n)
{
	size_t p = (n - d->off % n) % n;

	if (p > 0)
		next(d, p);
}

static unsigned char get_byte(struct dec *d)
{
	const unsigned char *p = next(d, 1);

	return p != NULL ? p[0] : 0;
}

static uint32_t u32(const unsigned char *p, int big)
{
	if (big)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t get_u32(struct dec *d)
{
	align(d, 4);
	const unsigned char *p = next(d, 4);

	return p != NULL ? u32(p, d->big) : 0;
}

static int get_bool(struct dec *d)
{
	uint32_t v = get_u32(d);

	if (v > 1)
		d->bad = 1;
	return v == 1;
}

/* get_text reads n bytes and their NUL terminator; a NUL inside is bad (a C
 * string would end there). Returns a pointer into the buffer, "" if bad. */
static const char *get_text(struct dec *d, size_t n)
{
	const unsigned char *p = n < SIZE_MAX ? next(d, n + 1) : NULL;

	if (p == NULL || p[n] != 0 || memchr(p, 0, n) != NULL) {
		d->bad = 1;
		return "";
	}
	return (const char *)p;
}

/* get_string reads a STRING or OBJECT_PATH. */
static const char *get_string(struct dec *d)
{
	return get_text(d, get_u32(d));
}

static const char *get_signature(struct dec *d)
{
	return get_text(d, get_byte(d));
}

/* skip reads past a header field value of the single basic type sig;
 * header fields have no other types. */
static void skip(struct dec *d, const char *sig)
{
	if (sig[0] == '\0' || sig[1] != '\0') {
		d->bad = 1;
		return;
	}
	switch (sig[0]) {
	case 'y':
		get_byte(d);
		break;
	case 'n':
	case 'q':
		align(d, 2);
		next(d, 2);
		break;
	case 'b':
	case 'i':
	case 'u':
	case 'h':
		get_u32(d);
		break;
	case 'x':
	case 't':
	case 'd':
		align(d, 8);
		next(d, 8);
		break;
	case 's':
	case 'o':
		get_string(d);
		break;
	case 'g':
		get_signature(d);
		break;
	default:
		d->bad = 1;
	}
}

/* msg is a received message: the header fields looked at and the body. A
 * message too big to keep has type 0. The strings point into buf. */
struct msg {
	int type;
	int big;
	uint32_t reply_serial;
	const char *sender, *error_name, *signature;
	const unsigned char *body;
	size_t body_len;
	unsigned char *buf;
};

static void msg_free(struct msg *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

static int read_message(struct conn *c, struct msg *m)
{
	unsigned char fixed[16];
	uint64_t fields_end, size;
	struct dec d;

	memset(m, 0, sizeof(*m));
	m->sender = m->error_name = m->signature = "";
	if (take(c, fixed, sizeof(fixed)) < 0)
		return -1;
	if (fixed[0] != 'l' && fixed[0] != 'B')
		return fail(c, "bad message: byte order %#x", fixed[0]);
	if (fixed[3] != 1)
		return fail(c, "bad message: protocol version %d", fixed[3]);
	m->big = fixed[0] == 'B';
	m->body_len = u32(fixed + 4, m->big);
	fields_end = 16 + (uint64_t)u32(fixed + 12, m->big);
	size = ((fields_end + 7) & ~(uint64_t)7) + m->body_len;
	if (size > MAX_MESSAGE)
		return take(c, NULL, (size_t)(size - 16));
	m->buf = malloc((size_t)size);
	if (m->buf == NULL)
		return fail(c, "out of memory");
	memcpy(m->buf, fixed, sizeof(fixed));
	if (take(c, m->buf + 16, (size_t)size - 16) < 0)
		return -1;
	d = (struct dec){.b = m->buf, .len = (size_t)fields_end, .off = 16, .big = m->big};
	while (!d.bad && d.off < d.len) {
		align(&d, 8);
		unsigned char code = get_byte(&d);
		const char *sig = get_signature(&d);

		if (code == FIELD_REPLY_SERIAL && strcmp(sig, "u") == 0)
			m->reply_serial = get_u32(&d);
		else if (code == FIELD_SENDER && strcmp(sig, "s") == 0)
			m->sender = get_string(&d);
		else if (code == FIELD_ERROR_NAME && strcmp(sig, "s") == 0)
			m->error_name = get_string(&d);
		else if (code == FIELD_SIGNATURE && strcmp(sig, "g") == 0)
			m->signature = get_signature(&d);
		else
			skip(&d, sig);
	}
	if (d.bad)
		return fail(c, "bad message header");
	m->type = fixed[1];
	m->body = m->buf + size - m->body_len;
	return 0;
}

/* pending is a call sent to dest, whose reply must come from dest. */
struct pending {
	uint32_t serial;
	const char *dest;
};

static struct pending call(struct conn *c, const char *dest, const char *path, const char *iface,
			   const char *member, int nargs, const char *const *args)
{
	c->serial++;
	put_call(&c->out, c->serial, dest, path, iface, member, nargs, args);
	return (struct pending){c->serial, dest};
}

/* await reads messages until it has the replies to the n calls, in any
 * order, and skips anything else (the bus's NameAcquired signal). */
static int await(struct conn *c, const struct pending *calls, struct msg *got, int n)
{
	int have = 0;

	for (int i = 0; i < n; i++)
		got[i].type = 0;
	while (have < n) {
		struct msg m;
		int matched = 0;

		if (read_message(c, &m) < 0) {
			msg_free(&m);
			return -1;
		}
		for (int i = 0; i < n && (m.type == TYPE_RETURN || m.type == TYPE_ERROR); i++) {
			if (calls[i].serial != m.reply_serial || got[i].type != 0)
				continue;
			/* The bus passes on a reply only from the connection that
			 * was called; checked all the same. */
			if (strcmp(m.sender, calls[i].dest) != 0) {
				int r = fail(c, "reply from \"%.255s\", want %s", m.sender, calls[i].dest);
				msg_free(&m);
				return r;
			}
			got[i] = m;
			have++;
			matched = 1;
			break;
		}
		if (!matched)
			msg_free(&m);
	}
	return 0;
}

/* args_of starts a decoder of m's body; it fails (and names the D-Bus error
 * in *error_name) if m is an error or its body's signature is not sig. The
 * body starts 8-aligned, so alignment from its start is alignment from the
 * message's. */
static int args_of(struct conn *c, const char *what, const struct msg *m, const char *sig, struct dec *d,
		   const char **error_name)
{
	*d = (struct dec){.b = m->body, .len = m->body_len, .big = m->big};
	if (m->type == TYPE_ERROR) {
		const char *text = strncmp(m->signature, "s", 1) == 0 ? get_string(d) : "";

		if (error_name != NULL)
			*error_name = m->error_name;
		if (*text == '\0')
			return fail(c, "%s: %.255s", what, m->error_name);
		return fail(c, "%s: %.255s: %.200s", what, m->error_name, text);
	}
	if (strcmp(m->signature, sig) != 0)
		return fail(c, "%s: reply of signature \"%.255s\", want \"%s\"", what, m->signature, sig);
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* unescape undoes the %XX escapes of a D-Bus address value in place. */
static int unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = r[1] != '\0' ? hexval(r[1]) : -1, lo = hi >= 0 ? hexval(r[2]) : -1;
		if (lo < 0 || (hi | lo) == 0)
			return -1;
		*w++ = (char)(hi << 4 | lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

/* next_socket returns the next socket path of the address list at *rest
 * ("@name" for an abstract socket), copied into path, advancing *rest; 0 at
 * the end. A system bus listens on unix path= or abstract= addresses; other
 * kinds are left out. */
static int next_socket(const char **rest, char *path, size_t cap)
{
	while (**rest != '\0') {
		const char *a = *rest, *end = strchrnul(a, ';');

		*rest = *end == ';' ? end + 1 : end;
		if ((size_t)(end - a) < 5 || strncmp(a, "unix:", 5) != 0)
			continue;
		for (const char *kv = a + 5; kv < end;) {
			const char *kvend = memchr(kv, ',', (size_t)(end - kv));
			const char *eq;
			size_t klen, vlen;

			if (kvend == NULL)
				kvend = end;
			eq = memchr(kv, '=', (size_t)(kvend - kv));
			if (eq != NULL) {
				klen = (size_t)(eq - kv);
				vlen = (size_t)(kvend - eq - 1);
				int abstract = klen == 8 && strncmp(kv, "abstract", 8) == 0;
				if ((abstract || (klen == 4 && strncmp(kv, "path", 4) == 0)) && vlen > 0 &&
				    vlen + 2 <= cap) {
					char *v = path + abstract;
					memcpy(v, eq + 1, vlen);
					v[vlen] = '\0';
					if (abstract)
						path[0] = '@';
					if (unescape(v) == 0 && *v != '\0')
						return 1;
				}
			}
			kv = kvend + 1;
		}
	}
	return 0;
}

/* dial connects to the first of address's sockets that accepts. */
static int dial(struct conn *c, const char *address)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	const char *rest = address;
	size_t used = 0;
	int any = 0;

	c->err[0] = '\0';
	while (next_socket(&rest, path, sizeof(path))) {
		any = 1;
		if (conn_connect(c, path) == 0)
			return 0;
		int n = snprintf(c->err + used, c->errlen - used, "%s%s: %s", used ? "; " : "", path,
				 io_error(errno));
		if (n > 0 && (size_t)n < c->errlen - used)
			used += (size_t)n;
	}
	if (!any)
		return fail(c, "\"%.200s\": no unix socket address", address);
	return -1;
}

enum vbus_result vbus_decide(const char *address, uint32_t trust_uid, int timeout_ms, const char *user,
			     const char *service, const char *rhost, const char *tty, struct vdecision *d,
			     char *err, size_t errlen)
{
	struct conn c = {.fd = -1, .err = err, .errlen = errlen};
	struct msg got[2] = {0};
	struct dec args;
	enum vbus_result result = VBUS_FAILED;
	const char *error_name = "";
	char line[512], prefix[64];

	memset(d, 0, sizeof(*d));
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	c.deadline.tv_sec += timeout_ms / 1000;
	c.deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (c.deadline.tv_nsec >= 1000000000L) {
		c.deadline.tv_sec++;
		c.deadline.tv_nsec -= 1000000000L;
	}
	if (dial(&c, address) < 0) {
		snprintf(prefix, sizeof(prefix), "system bus: ");
		goto out;
	}

	/* EXTERNAL with our uid, which the bus checks against the socket's
	 * peer credentials. */
	{
		char uid[16], hex[33] = "";
		int n = snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());

		for (int i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)uid[i]);
		put(&c.out, "", 1);
		put(&c.out, "AUTH EXTERNAL ", 14);
		put(&c.out, hex, strlen(hex));
		put(&c.out, "\r\nBEGIN\r\n", 9);
	}
	snprintf(prefix, sizeof(prefix), "system bus handshake: ");
	const char *own_args[] = {VBUS_NAME};
	struct pending hello = call(&c, DBUS_NAME, DBUS_PATH, DBUS_NAME, "Hello", 0, NULL);
	struct pending owner_call = call(&c, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", 1, own_args);
	if (flush(&c) < 0 || read_line(&c, line, sizeof(line)) < 0)
		goto out;
	if (strncmp(line, "OK ", 3) != 0) {
		fail(&c, "authentication refused: \"%.200s\"", line);
		goto out;
	}
	struct pending first[2] = {hello, owner_call};
	if (await(&c, first, got, 2) < 0 || args_of(&c, "hello", &got[0], "s", &args, NULL) < 0)
		goto out;
	prefix[0] = '\0';
	if (args_of(&c, "owner of " VBUS_NAME, &got[1], "s", &args, NULL) < 0)
		goto out;
	const char *owner = get_string(&args);
	if (args.bad || *owner == '\0' || strlen(owner) > NAME_MAX_LEN) {
		fail(&c, "owner of " VBUS_NAME ": bad reply");
		goto out;
	}
	char owner_copy[NAME_MAX_LEN + 1];
	strcpy(owner_copy, owner);
	msg_free(&got[0]);
	msg_free(&got[1]);

	/* The uid check and the call at once, the call sent to the unique name
	 * that is checked. */
	const char *uid_args[] = {owner_copy};
	const char *decide_args[] = {user, service, rhost, tty};
	struct pending second[2] = {
		call(&c, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetConnectionUnixUser", 1, uid_args),
		call(&c, owner_copy, VBUS_PATH, VBUS_INTERFACE, "Decide", 4, decide_args),
	};
	snprintf(prefix, sizeof(prefix), "decide: ");
	if (flush(&c) < 0 || await(&c, second, got, 2) < 0)
		goto out;
	prefix[0] = '\0';
	if (args_of(&c, "uid of " VBUS_NAME, &got[0], "u", &args, NULL) < 0)
		goto out;
	uint32_t uid = get_u32(&args);
	if (args.bad) {
		fail(&c, "uid of " VBUS_NAME " (%s): bad reply", owner_copy);
		goto out;
	}
	if (uid != trust_uid) {
		fail(&c, VBUS_NAME " (%s) has uid %u, want %u: not trusted", owner_copy, uid, trust_uid);
		goto out;
	}
	if (args_of(&c, "decide", &got[1], "bssss", &args, &error_name) < 0) {
		if (strcmp(error_name, VBUS_ERR_NO_SUCH_USER) == 0)
			result = VBUS_NO_SUCH_USER;
		goto out;
	}
	d->record = get_bool(&args);
	const char *s[4];
	for (int i = 0; i < 4; i++)
		s[i] = get_string(&args);
	if (args.bad) {
		fail(&c, "decide: bad reply");
		goto out;
	}
	d->shell = strdup(s[0]);
	d->recorder = strdup(s[1]);
	d->conf = strdup(s[2]);
	d->rule = strdup(s[3]);
	if (d->shell == NULL || d->recorder == NULL || d->conf == NULL || d->rule == NULL) {
		vdecision_free(d);
		fail(&c, "out of memory");
		goto out;
	}
	result = VBUS_OK;
out:
	if (result == VBUS_FAILED && prefix[0] != '\0') {
		/* Put where it failed in front of the reason. */
		size_t p = strlen(prefix), n = strnlen(err, errlen);
		if (p + n < errlen) {
			memmove(err + p, err, n + 1);
			memcpy(err, prefix, p);
		}
	}
	msg_free(&got[0]);
	msg_free(&got[1]);
	free(c.out.p);
	if (c.fd >= 0)
		close(c.fd);
	return result;
}
