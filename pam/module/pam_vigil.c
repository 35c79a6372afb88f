/* pam_vigil's PAM entry points. They are C because cgo's export signatures
 * clash with <security/pam_modules.h>; open_session gathers the PAM items
 * and the login program's NSS view of the user, then hands over to Go
 * (vigilOpenSession in main.go). Everything but pam_sm_* is hidden so the
 * module exports only what libpam looks up (and what cgo forces). */
#define PAM_SM_SESSION
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>
#include "_cgo_export.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* The largest passwd buffer we try before giving up. */
#define PW_BUF_MAX (1 << 20)

HIDDEN void vigil_syslog(pam_handle_t *pamh, int priority, const char *msg)
{
	pam_syslog(pamh, priority, "%s", msg);
}

HIDDEN void vigil_message(pam_handle_t *pamh, int error, const char *msg)
{
	pam_prompt(pamh, error ? PAM_ERROR_MSG : PAM_TEXT_INFO, NULL, "%s", msg);
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

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *user = NULL;
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || *user == '\0') {
		pam_syslog(pamh, LOG_ERR, "no user name: session denied");
		return PAM_SESSION_ERR;
	}
	char *shell;
	int found = nss_shell(user, &shell);
	if (found < 0) {
		pam_syslog(pamh, LOG_CRIT, "out of memory: session denied");
		return PAM_BUF_ERR;
	}
	int r = vigilOpenSession(pamh, flags, argc, (char **)argv, (char *)user,
				 (char *)item(pamh, PAM_SERVICE), (char *)item(pamh, PAM_RHOST),
				 (char *)item(pamh, PAM_TTY), found, shell);
	free(shell);
	return r;
}

/* Nothing to undo: open_session only sets environment variables. */
PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}
