#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../../nss/src/snapshot.h"

/* The user-facing reasons for a refusal; syslog gets the details. */
#define MSG_NOT_WRAPPED                                                                                       \
	"vigil: this session must be recorded, but the recorder is not the login shell here; login refused, " \
	"please tell your administrator"
#define MSG_UNAVAILABLE                                                                                    \
	"vigil: this session must be recorded, but the recording policy service is unavailable; login " \
	"refused, please try again later or tell your administrator"
#define MSG_ALLOWED "vigil: the session recording policy is unavailable; login allowed"

__attribute__((format(printf, 3, 4))) static void logf_(const struct vsink *sink, int priority,
							 const char *format, ...)
{
	va_list ap;
	char *text;

	va_start(ap, format);
	if (vasprintf(&text, format, ap) < 0)
		text = NULL;
	va_end(ap);
	sink->log(sink->ctx, priority, text != NULL ? text : "out of memory formatting a log line");
	free(text);
}

void vopts_parse(struct vopts *o, int argc, const char *const *argv, const struct vsink *sink)
{
	*o = (struct vopts){.snapshot = VSNAPSHOT_PATH};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "debug") == 0)
			o->debug = 1;
		else if (strcmp(a, "quiet") == 0)
			o->quiet = 1;
		else if (strcmp(a, "on_unavailable=deny") == 0)
			o->allow_unavailable = 0;
		else if (strcmp(a, "on_unavailable=allow") == 0)
			o->allow_unavailable = 1;
		else if (strncmp(a, "snapshot=", 9) == 0 && a[9] != '\0')
			o->snapshot = a + 9;
		else
			logf_(sink, LOG_ERR, "unknown or bad argument \"%s\" ignored", a);
	}
}

void venv_free(char *env[VENV_COUNT])
{
	for (int i = 0; i < VENV_COUNT; i++) {
		free(env[i]);
		env[i] = NULL;
	}
}

/* quote writes s as a double-quoted string with \", \\ and \xNN escapes for
 * anything but printable ASCII (an rhost comes from DNS), cut with "..."
 * to fit cap (at least 16). */
static const char *quote(const char *s, char *out, size_t cap)
{
	/* Room kept for one escape, "...", the closing quote and the NUL. */
	const size_t reserve = 4 + 3 + 1 + 1;
	size_t n = 0;

	out[n++] = '"';
	for (; *s != '\0' && n + reserve < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(out + n, 5, "\\x%02x", ch);
			n += 4;
		} else {
			out[n++] = (char)ch;
		}
	}
	if (*s != '\0') {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}

/* state is one vsession_open call. */
struct state {
	const struct vopts *o;
	const struct vreq *r;
	const struct vsink *sink;
	char **env;
	char who[1024];
	enum vresult result;
};

static void say(struct state *s, int error, const char *text)
{
	if (error || !(s->o->quiet || s->r->silent))
		s->sink->message(s->sink->ctx, error, text);
}

/* deny refuses the session, syslogging the detail and then telling the
 * user msg: the log line comes first, so that an invoking user who stops
 * or kills su at the message (its stderr is theirs) cannot keep it out. */
__attribute__((format(printf, 3, 4))) static void deny(struct state *s, const char *msg, const char *format, ...)
{
	va_list ap;
	char *detail;

	s->result = VRES_DENIED;
	venv_free(s->env);
	va_start(ap, format);
	if (vasprintf(&detail, format, ap) < 0)
		detail = NULL;
	va_end(ap);
	logf_(s->sink, LOG_ERR, "%s: session denied", detail != NULL ? detail : s->who);
	free(detail);
	say(s, 1, msg);
}

/* set_env puts the recorder's environment: the real shell and the conf
 * overlay under vigil's and tlog's names. */
static void set_env(struct state *s, const char *shell, const char *conf)
{
	const char *fmt[VENV_COUNT] = {VENV_REC_SHELL "=%s", VENV_REC_CONF "=%s", VENV_REC_SERVICE "=%s",
				       VENV_TLOG_SESSION_SHELL "=%s", VENV_TLOG_SESSION_CONF "=%s"};
	const char *val[VENV_COUNT] = {shell, conf, s->r->service, shell, conf};

	if (conf == NULL || *conf == '\0')
		val[1] = val[4] = "{}";
	for (int i = 0; i < VENV_COUNT; i++) {
		char *kv;

		if (asprintf(&kv, fmt[i], val[i]) < 0) {
			/* asprintf leaves kv undefined; the ones made go with deny. */
			deny(s, VMSG_SETUP_FAILED, "%s: out of memory", s->who);
			return;
		}
		s->env[i] = kv;
	}
	s->result = VRES_SUCCESS;
}

/* decided applies policyd's decision. */
static void decided(struct state *s, const struct vdecision *d)
{
	const struct vreq *r = s->r;
	char q[600];
	int wrapped = r->nss_found && *d->recorder != '\0' && strcmp(r->nss_shell, d->recorder) == 0;

	if (s->o->debug)
		logf_(s->sink, LOG_DEBUG, "%s: policyd: record=%s shell=%s recorder=%s rule=%s", s->who,
		      d->record ? "true" : "false", d->shell, d->recorder, d->rule);
	if (d->record && (*d->recorder == '\0' || *d->shell == '\0')) {
		deny(s, MSG_NOT_WRAPPED, "%s must be recorded (%s) but policyd named no recorder or no shell", s->who,
		     d->rule);
	} else if (d->record && !r->nss_found) {
		deny(s, MSG_NOT_WRAPPED, "%s must be recorded (%s) but NSS has no passwd entry for the login program",
		     s->who, d->rule);
	} else if (d->record && !wrapped) {
		deny(s, MSG_NOT_WRAPPED,
		     "%s must be recorded (%s) but NSS gives the login program the shell %s, not the recorder %s "
		     "(is libnss_vigil missing or not first on nsswitch.conf's passwd line?)",
		     s->who, d->rule, quote(r->nss_shell, q, sizeof(q)), d->recorder);
	} else if (d->record) {
		set_env(s, d->shell, d->conf);
		if (s->result != VRES_SUCCESS)
			return;
		/* PAM cannot see which shell the login program then runs: say
		 * what the recording depends on. */
		logf_(s->sink, LOG_INFO, "%s: recorded (%s): the login shell is the recorder %s", s->who, d->rule,
		      d->recorder);
		if (r->caller_root && strncmp(r->service, "su", 2) == 0)
			logf_(s->sink, LOG_NOTICE,
			      "%s: su run by root: a shell named with -s/--shell (or kept with -m/-p) runs instead of "
			      "the recorder, unrecorded",
			      s->who);
	} else if (wrapped) {
		/* NSS wraps the user for every service, so the recorder runs and
		 * records whatever PAM says; give it the real shell. */
		set_env(s, d->shell, d->conf);
		if (s->result == VRES_SUCCESS)
			logf_(s->sink, LOG_NOTICE,
			      "%s: not recorded by policy (%s), but NSS gives the recorder as shell: recorded anyway",
			      s->who, d->rule);
	} else {
		s->result = VRES_IGNORE;
	}
}

/* snapshot_find looks name up in the snapshot file at path: VSNAP_* or -1
 * (the file is unusable, why says how); *nobody is its NOBODY flag. */
static int snapshot_find(const char *path, const char *name, int *nobody, char *why, size_t whylen)
{
	/* O_NONBLOCK: a FIFO put at the path must not hang the login. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	struct vsnap snap;
	struct vigil_entry e;
	int found = -1;

	if (fd < 0) {
		snprintf(why, whylen, "snapshot %s: %m", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "snapshot %s: %m", path);
	} else if (!S_ISREG(st.st_mode) || st.st_size < (off_t)VSNAP_HEADER_SIZE || st.st_size > UINT32_MAX) {
		snprintf(why, whylen, "snapshot %s: not a snapshot file (%lld bytes)", path, (long long)st.st_size);
	} else {
		/* Read, not mapped: a file cut short under a mapping would kill
		 * the login program with SIGBUS. */
		size_t size = (size_t)st.st_size, got = 0;
		unsigned char *buf = malloc(size);

		while (buf != NULL && got < size) {
			ssize_t n = pread(fd, buf + got, size - got, (off_t)got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (buf == NULL) {
			snprintf(why, whylen, "snapshot %s: out of memory", path);
		} else if (got < size) {
			snprintf(why, whylen, "snapshot %s: read %zu of %zu bytes", path, got, size);
		} else if (vsnap_parse(&snap, buf, size) < 0) {
			snprintf(why, whylen, "snapshot %s: invalid (policyd/spec/nss.md)", path);
		} else {
			*nobody = (snap.flags & VSNAP_FLAG_NOBODY) != 0;
			found = vsnap_by_name(&snap, name, &e);
		}
		free(buf);
	}
	close(fd);
	return found;
}

/* fallback decides from the snapshot when policyd gave no decision (derr). */
static void fallback(struct state *s, const char *derr)
{
	const struct vreq *r = s->r;
	const char *snap = s->o->snapshot;
	char serr[512] = "", *why = NULL;
	int nobody = 0, found = snapshot_find(snap, r->user, &nobody, serr, sizeof(serr)), n = -1;

	switch (found) {
	case -1:
		n = asprintf(&why, "policyd gave no decision (%s) and the snapshot is unusable (%s)", derr, serr);
		break;
	case VSNAP_RECORDED:
		n = asprintf(&why, "policyd gave no decision (%s) and the snapshot %s says %s is recorded", derr, snap,
			     r->user);
		break;
	case VSNAP_UNRECORDED:
		s->result = VRES_IGNORE;
		logf_(s->sink, LOG_NOTICE, "%s: policyd gave no decision (%s); not recorded according to the snapshot",
		      s->who, derr);
		return;
	default:
		if (nobody) {
			s->result = VRES_IGNORE;
			logf_(s->sink, LOG_NOTICE,
			      "%s: policyd gave no decision (%s); the snapshot's policy records nobody", s->who, derr);
			return;
		}
		/* A user the snapshot does not know (one from SSSD or LDAP that
		 * does not enumerate, or one added since) may be one the policy
		 * records: on_unavailable decides, as for a recorded one. */
		n = asprintf(&why,
			     "policyd gave no decision (%s) and the snapshot %s does not know %s, who may be recorded",
			     derr, snap, r->user);
	}
	if (n < 0)
		why = NULL;
	if (!s->o->allow_unavailable) {
		deny(s, MSG_UNAVAILABLE, "%s: %s; on_unavailable=deny", s->who, why != NULL ? why : derr);
	} else {
		s->result = VRES_IGNORE;
		logf_(s->sink, LOG_WARNING, "%s: %s; on_unavailable=allow: session allowed, it may not be recorded",
		      s->who, why != NULL ? why : derr);
		say(s, 0, MSG_ALLOWED);
	}
	free(why);
}

enum vresult vsession_open(const struct vopts *o, const struct vreq *r, vdecide decide, void *decide_ctx,
			   const struct vsink *sink, char *env[VENV_COUNT])
{
	struct state s = {.o = o, .r = r, .sink = sink, .env = env, .result = VRES_DENIED};
	struct vdecision d;
	char err[1024] = "", rhost[300], tty[300];

	for (int i = 0; i < VENV_COUNT; i++)
		env[i] = NULL;
	snprintf(s.who, sizeof(s.who), "user %s (service %s, rhost %s, tty %s)", r->user, r->service,
		 quote(r->rhost, rhost, sizeof(rhost)), quote(r->tty, tty, sizeof(tty)));
	if (o->debug) {
		char shell[600];

		if (r->nss_found)
			logf_(sink, LOG_DEBUG, "%s: NSS shell %s", s.who, quote(r->nss_shell, shell, sizeof(shell)));
		else
			logf_(sink, LOG_DEBUG, "%s: no passwd entry through NSS", s.who);
	}
	memset(&d, 0, sizeof(d));
	switch (decide(decide_ctx, r, &d, err, sizeof(err))) {
	case VBUS_OK:
		decided(&s, &d);
		vdecision_free(&d);
		break;
	case VBUS_NO_SUCH_USER:
		/* policyd cannot see the user, so neither its NSS module nor its
		 * policy can record them: nothing to do. */
		vdecision_free(&d);
		s.result = VRES_IGNORE;
		logf_(sink, LOG_NOTICE, "%s: unknown to policyd, not recorded: %s", s.who, err);
		break;
	default:
		vdecision_free(&d);
		fallback(&s, err);
	}
	if (s.result != VRES_SUCCESS)
		venv_free(env);
	return s.result;
}
