/* pam_vigil's open_session logic without libpam: from the module arguments,
 * the PAM items, the shell NSS gives the login program and policyd's
 * decision (or, when policyd cannot be asked, the NSS snapshot) it works out
 * the PAM result, the environment to put, the messages for the user and the
 * syslog lines. pam_vigil.c applies them through libpam; the tests drive it
 * through testdata/driver.c. The table of cases is in pam/README.md. */
#ifndef VIGIL_PAM_SESSION_H
#define VIGIL_PAM_SESSION_H

#include "bus.h"

/* The PAM environment handed to the recorder (conf/pamenv). */
#define VENV_REC_SHELL "VIGIL_REC_SHELL"
#define VENV_REC_CONF "VIGIL_REC_CONF"
#define VENV_REC_SERVICE "VIGIL_REC_SERVICE"
#define VENV_TLOG_SESSION_SHELL "TLOG_REC_SESSION_SHELL"
#define VENV_TLOG_SESSION_CONF "TLOG_REC_SESSION_CONF_TEXT"
#define VENV_COUNT 5

/* policyd/nssdb.SnapshotPath */
#define VSNAPSHOT_PATH "/var/lib/vigil/nss.snapshot"

/* The whole exchange with policyd (connect, owner check, Decide): logins
 * must not hang on a stuck daemon. */
#define VDECIDE_TIMEOUT_MS 2000

enum vresult {
	VRES_IGNORE,  /* PAM_IGNORE: not recorded, nothing set */
	VRES_SUCCESS, /* PAM_SUCCESS: recorder environment set */
	VRES_DENIED,  /* PAM_PERM_DENIED: the session is refused */
};

/* Where syslog lines (priority: LOG_ERR...LOG_DEBUG) and messages for the
 * user go. */
struct vsink {
	void (*log)(void *ctx, int priority, const char *text);
	void (*message)(void *ctx, int error, const char *text);
	void *ctx;
};

/* The module arguments from the pam.d line. */
struct vopts {
	int debug;	       /* also log every decision at LOG_DEBUG */
	int quiet;	       /* no informational messages (errors are always shown) */
	int allow_unavailable; /* on_unavailable=allow */
	const char *snapshot;  /* snapshot=PATH, default VSNAPSHOT_PATH */
};

/* vopts_parse parses the arguments; problems (unknown arguments, bad
 * values) are logged, and a bad on_unavailable keeps deny. */
void vopts_parse(struct vopts *o, int argc, const char *const *argv, const struct vsink *sink);

/* One pam_open_session call. */
struct vreq {
	const char *user, *service, *rhost, *tty;
	/* getpwnam_r(user) in the login process, through its NSS chain
	 * (libnss_vigil when installed): the shell it will run. */
	int nss_found;
	const char *nss_shell;
	int silent; /* PAM_SILENT: like quiet */
	/* The login program was started by root (su run by root, which may
	 * run a shell of root's choosing instead of the login shell). */
	int caller_root;
};

/* A vdecide asks policyd (vbus_decide in the module). */
typedef enum vbus_result (*vdecide)(void *ctx, const struct vreq *r, struct vdecision *d, char *err,
				    size_t errlen);

/* vsession_open decides one session. For VRES_SUCCESS env holds the
 * malloc'ed NAME=value strings to put, in order (free with venv_free);
 * otherwise all NULL. Out of memory denies. */
enum vresult vsession_open(const struct vopts *o, const struct vreq *r, vdecide decide, void *decide_ctx,
			   const struct vsink *sink, char *env[VENV_COUNT]);

void venv_free(char *env[VENV_COUNT]);

/* Shown to a user whose session is refused because the environment could
 * not be put. */
#define VMSG_SETUP_FAILED "vigil: cannot set up session recording; login refused"

#endif
