/* Client side of the lookup socket (policyd/spec/nss.md). */
#ifndef VIGIL_SOCK_H
#define VIGIL_SOCK_H

#include <stddef.h>

#include "snapshot.h"

#define VSOCK_OP_NAME 1
#define VSOCK_OP_UID 2
#define VSOCK_MAX_NAME 256
#define VSOCK_MAX_PAYLOAD 4096
#define VSOCK_BUDGET_MS 250

enum vsock_result {
	VSOCK_BUSY = -2,	/* root's daemon is up but late, busy or broken */
	VSOCK_UNAVAIL = -1,	/* down, or not root */
	VSOCK_NOT_RECORDED = 0,
	VSOCK_RECORDED = 1,
};

/* Sends one request and reads its answer within VSOCK_BUDGET_MS. On
 * VSOCK_RECORDED the strings of *e point into resp, which must hold
 * VSOCK_MAX_PAYLOAD bytes. */
enum vsock_result vsock_lookup(const char *path, unsigned op, const void *key, size_t key_len,
			       unsigned char *resp, struct vigil_entry *e);

#endif
