/* Snapshot file reader (policyd/spec/nss.md). Pure: no I/O, no allocation,
 * so the fuzz driver can link it alone. */
#ifndef VIGIL_SNAPSHOT_H
#define VIGIL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#define VSNAP_HEADER_SIZE 64u
#define VSNAP_ENTRY_SIZE 40u
#define VSNAP_VERSION 1u
#define VSNAP_FLAG_NOBODY 1u
#define VSNAP_ENTRY_RECORDED 1u

/* A passwd entry; the strings point into the snapshot mapping or into a
 * socket response buffer. */
struct vigil_entry {
	uint32_t flags;
	uint32_t uid;
	uint32_t gid;
	const char *name;
	const char *passwd;
	const char *gecos;
	const char *dir;
	const char *shell;
};

/* The header fields of a validated snapshot. Lookups bound every access by
 * these copies rather than re-reading the file, so a file rewritten in place
 * (against the spec) yields wrong answers, never an out-of-bounds read. */
struct vsnap {
	const unsigned char *base;
	uint32_t size;
	uint32_t flags;
	uint32_t n_entries;
	uint32_t n_buckets;
	uint32_t name_buckets;
	uint32_t uid_buckets;
	uint32_t entries;
	uint32_t strings;
	uint32_t strings_len;
	uint64_t generation;
};

enum vsnap_find {
	VSNAP_MISSING = 0,	/* no entry: ask the socket unless NOBODY */
	VSNAP_RECORDED,
	VSNAP_UNRECORDED,
};

uint32_t vsnap_fnv1a(const void *data, size_t len);

/* vsnap_parse validates everything the spec lists, checksum included.
 * Returns 0 and fills *s, or -1 if the file must not be trusted. */
int vsnap_parse(struct vsnap *s, const void *data, size_t size);

/* Lookups fill *e (pointing into the mapping) unless VSNAP_MISSING. */
enum vsnap_find vsnap_by_name(const struct vsnap *s, const char *name, struct vigil_entry *e);
enum vsnap_find vsnap_by_uid(const struct vsnap *s, uint32_t uid, struct vigil_entry *e);

#endif
