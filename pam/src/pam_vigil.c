/* pam_vigil.so, vigil's PAM session module (pam/README.md). Plain C with no
 * threads, no signal handlers and nothing left open, like libnss_vigil
 * (design.md section 3): it runs inside sshd's monitor, su and login before
 * they fork the shell, at every login. open_session gathers the PAM items
 * and the login program's NSS view of the user, asks policyd (bus.c) and
 * applies what session.c decides. Only pam_sm_* are exported
 * (pam_vigil.map). */
#define _GNU_SOURCE
#define PAM_SM_SESSION
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "bus.h"
#include "session.h"

#define EXPORT __attribute__((visibility("default")))

/* The largest passwd buffer we try before giving up. */
#define PW_BUF_MAX (1 << 20)

static void sink_log(void *pamh, int priority, const char *text)
{
	pam_syslog(pamh, priority, "%s", text);
}

static void sink_message(void *pamh, int error, const char *text)
{
	pam_prompt(pamh, error ? PAM_ERROR_MSG : PAM_TEXT_INFO, NULL, "%s", text);
}

/* nss_shell looks user up through the process's own NSS chain (what the
 * login program will do next) and returns a malloc'ed copy of pw_shell in
 * *shell: 1 if found, 0 if not (or on a lookup error: the caller fails
 * closed), -1 without memory. */
static int nss_shell(const char *user, char **shell)
{
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);

	if (size <= 0)
		size = 1024;
	*shell = NULL;
	for (;;) {
		struct passwd pw, *res = NULL;
		char *buf = malloc(size);

		if (buf == NULL)
			return -1;
		int err = getpwnam_r(user, &pw, buf, size, &res);
		if (err == ERANGE && size < PW_BUF_MAX) {
			free(buf);
			size *= 2;
			continue;
		}
		if (err != 0 || res == NULL) {
			free(buf);
			return 0;
		}
		*shell = strdup(pw.pw_shell != NULL ? pw.pw_shell : "");
		free(buf);
		return *shell != NULL ? 1 : -1;
	}
}

static const char *item(pam_handle_t *pamh, int type)
{
	const void *v = NULL;

	if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || v == NULL)
		return "";
	return v;
}

/* ask_policyd is the vdecide of the module: the system bus, trusting root.
 * A setuid or setgid login program (su) ignores DBUS_SYSTEM_BUS_ADDRESS: the
 * invoking user could point it at a bus of their own, whose daemon would
 * vouch that a fake policyd is root. */
static enum vbus_result ask_policyd(void *ctx, const struct vreq *r, struct vdecision *d, char *err, size_t errlen)
{
	const char *addr = secure_getenv("DBUS_SYSTEM_BUS_ADDRESS");

	(void)ctx;
	if (addr == NULL || *addr == '\0')
		addr = VBUS_DEFAULT_ADDRESS;
	return vbus_decide(addr, 0, VDECIDE_TIMEOUT_MS, r->user, r->service, r->rhost, r->tty, d, err, errlen);
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const struct vsink sink = {sink_log, sink_message, pamh};
	const char *user = NULL;
	struct vopts opts;
	char *shell, *env[VENV_COUNT];
	int rc;

	vopts_parse(&opts, argc, argv, &sink);
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || *user == '\0') {
		pam_syslog(pamh, LOG_ERR, "no user name: session denied");
		return PAM_SESSION_ERR;
	}
	int found = nss_shell(user, &shell);
	if (found < 0) {
		pam_syslog(pamh, LOG_CRIT, "out of memory: session denied");
		return PAM_BUF_ERR;
	}
	struct vreq req = {
		.user = user,
		.service = item(pamh, PAM_SERVICE),
		.rhost = item(pamh, PAM_RHOST),
		.tty = item(pamh, PAM_TTY),
		.nss_found = found,
		.nss_shell = found ? shell : "",
		.silent = (flags & PAM_SILENT) != 0,
		.caller_root = getuid() == 0,
	};
	/* Only VRES_SUCCESS opens the session: anything else denies. */
	switch (vsession_open(&opts, &req, ask_policyd, NULL, &sink, env)) {
	case VRES_SUCCESS:
		rc = PAM_SUCCESS;
		break;
	case VRES_IGNORE:
		rc = PAM_IGNORE;
		break;
	default:
		rc = PAM_PERM_DENIED;
	}
	for (int i = 0; rc == PAM_SUCCESS && i < VENV_COUNT; i++) {
		int e = pam_putenv(pamh, env[i]);

		if (e != PAM_SUCCESS) {
			/* Without its environment the recorder cannot start the
			 * user's shell: fail closed. */
			pam_syslog(pamh, LOG_ERR, "pam_putenv: %s: session denied", pam_strerror(pamh, e));
			sink_message(pamh, 1, VMSG_SETUP_FAILED);
			rc = PAM_SESSION_ERR;
		}
	}
	venv_free(env);
	free(shell);
	return rc;
}

/* Nothing to undo: open_session only sets environment variables. */
EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
