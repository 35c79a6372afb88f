/* One Decide call to vigil-policyd over the system bus (policyd/spec/dbus.md),
 * speaking the D-Bus wire protocol itself: no libdbus, no threads, no signal
 * handlers, nothing left open when it returns. */
#ifndef VIGIL_PAM_BUS_H
#define VIGIL_PAM_BUS_H

#include <stddef.h>
#include <stdint.h>

/* policyd's names on the bus (policyd/dbusapi/wire/names.go). */
#define VBUS_NAME "io.vigil.Policy1"
#define VBUS_PATH "/io/vigil/Policy1"
#define VBUS_INTERFACE "io.vigil.Policy1"
#define VBUS_ERR_NO_SUCH_USER VBUS_INTERFACE ".Error.NoSuchUser"

/* The system bus when the environment may not choose one. */
#define VBUS_DEFAULT_ADDRESS "unix:path=/run/dbus/system_bus_socket"

/* Decide's reply; the strings are malloc'ed. */
struct vdecision {
	int record;
	char *shell;	/* the user's real shell */
	char *recorder; /* the recorder path from the policy */
	char *conf;	/* tlog session JSON overlay ("{}" or "" when none) */
	char *rule;	/* what decided */
};

void vdecision_free(struct vdecision *d);

enum vbus_result {
	VBUS_OK = 0,
	VBUS_NO_SUCH_USER, /* policyd (trusted) does not know the user */
	VBUS_FAILED,	   /* no answer to trust: no bus, no policyd, timeout, untrusted owner, an error */
};

/* vbus_decide asks the owner of VBUS_NAME on the bus at address (a D-Bus
 * address list; unix path= and abstract= sockets) for the decision on a
 * session, within timeout_ms for everything. The answer counts only from the
 * unique name that owns VBUS_NAME and that the bus says has uid trust_uid.
 * Two round trips: the authentication, BEGIN, Hello and GetNameOwner in one
 * write, then GetConnectionUnixUser and Decide in a second. Unless VBUS_OK,
 * err holds a one-line reason. */
enum vbus_result vbus_decide(const char *address, uint32_t trust_uid, int timeout_ms, const char *user,
			     const char *service, const char *rhost, const char *tty, struct vdecision *d,
			     char *err, size_t errlen);

#endif
