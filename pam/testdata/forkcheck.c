/* forkcheck SERVICE USER N: opens a PAM session for USER (pam_vigil in
 * SERVICE's stack loads the Go runtime into this process and runs it), then
 * forks N children at once that each resolve USER and root through NSS and
 * exit, as login programs' children do. Exit 0 when all children exited 0. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <security/pam_appl.h>

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)data;
	*resp = calloc(n, sizeof **resp);
	if (*resp == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		fprintf(stderr, "conv: %s\n", msg[i]->msg);
	return PAM_SUCCESS;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: forkcheck SERVICE USER N\n");
		return 2;
	}
	const char *user = argv[2];
	int n = atoi(argv[3]);
	struct pam_conv c = {conv, NULL};
	pam_handle_t *pamh;
	int rc = pam_start(argv[1], user, &c, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start: %d\n", rc);
		return 2;
	}
	rc = pam_open_session(pamh, 0);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_open_session: %s\n", pam_strerror(pamh, rc));
		return 2;
	}
	const char *shell = pam_getenv(pamh, "VIGIL_REC_SHELL");
	printf("VIGIL_REC_SHELL=%s\n", shell ? shell : "");
	fflush(stdout);

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			struct passwd *pw = getpwnam(user);
			int ok = pw != NULL;
			pw = getpwnam("root");
			ok = ok && pw != NULL;
			_exit(ok ? 0 : 3);
		}
	}
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	printf("%d children, %d failed\n", n, bad);
	pam_close_session(pamh, 0);
	pam_end(pamh, PAM_SUCCESS);
	return bad ? 1 : 0;
}
