/* listen(2)s on fd 3 and exits. SO_PEERCRED reports the credentials of
 * the process that called listen, so the test runs this under another uid
 * and then accepts on the same socket itself: a server "running as" that
 * uid without a second server implementation. */
#include <sys/socket.h>

int main(void)
{
	return listen(3, 16) == 0 ? 0 : 1;
}
