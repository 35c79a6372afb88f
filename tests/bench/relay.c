/* relay: the least a terminal recorder can do. It runs a command on a new
 * pty with the caller's terminal modes and size, puts the caller's terminal
 * in raw mode and copies bytes both ways with one poll(2) loop, recording
 * nothing. tests/bench/recorder.sh measures it beside script(1), tlog-rec
 * and vigil-rec: what it costs is the second pty hop itself, which no
 * recorder can avoid. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int copy(int from, int to) {
	char buf[65536];
	ssize_t n = read(from, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += w;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: relay CMD [ARG...]\n");
		return 2;
	}
	struct termios saved, raw;
	struct winsize ws;
	if (tcgetattr(0, &saved) < 0 || ioctl(0, TIOCGWINSZ, &ws) < 0) {
		perror("relay: stdin is not a terminal");
		return 1;
	}
	int master;
	pid_t pid = forkpty(&master, NULL, &saved, &ws);
	if (pid < 0) {
		perror("relay: forkpty");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror("relay: exec");
		_exit(127);
	}
	raw = saved;
	cfmakeraw(&raw);
	tcsetattr(0, TCSANOW, &raw);
	for (;;) {
		struct pollfd p[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents && copy(master, 1) < 0)
			break; /* EIO: the command and its children closed the pty */
		if (p[1].revents && copy(0, master) < 0)
			break;
	}
	tcsetattr(0, TCSANOW, &saved);
	close(master); /* hangs up the command's terminal, as script(1) does */
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
