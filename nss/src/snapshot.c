/* Snapshot file reader; the format is in policyd/spec/nss.md and the Go
 * twin (policyd/nssdb) applies the same checks in the same order. */
#include <string.h>

#include "snapshot.h"

/* Offsets of the entry fields. */
enum {
	E_FLAGS = 0, E_UID = 4, E_GID = 8, E_NAME = 12, E_PASSWD = 16,
	E_GECOS = 20, E_DIR = 24, E_SHELL = 28, E_NEXT_NAME = 32, E_NEXT_UID = 36,
};

/* Byte loads: a hostile file may hold unaligned offsets. */
static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t vsnap_fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t uid_hash(uint32_t uid)
{
	unsigned char b[4] = { uid & 0xff, uid >> 8 & 0xff, uid >> 16 & 0xff, (unsigned char)(uid >> 24) };

	return vsnap_fnv1a(b, sizeof b);
}

/* [off, off+len) must lie after the header and inside the file. */
static int region_ok(uint32_t off, uint64_t len, uint32_t size)
{
	return off >= VSNAP_HEADER_SIZE && (uint64_t)off + len <= size;
}

static const unsigned char *entry_at(const struct vsnap *s, uint32_t idx)
{
	return s->base + s->entries + (size_t)idx * VSNAP_ENTRY_SIZE;
}

/* The string at off, or NULL if it does not end inside the string area. */
static const char *str_at(const struct vsnap *s, uint32_t off)
{
	const char *p = (const char *)s->base + s->strings + off;

	if (off >= s->strings_len || memchr(p, 0, s->strings_len - off) == NULL)
		return NULL;
	return p;
}

/* Walks every chain of one table once: each entry must sit in the bucket
 * its hash names, and the chains together must hold each entry exactly
 * once (no loops, no shared tails), which bounds the walk by n_entries. */
static int chains_ok(const struct vsnap *s, uint32_t table, int by_uid)
{
	uint32_t mask = s->n_buckets - 1, seen = 0;

	for (uint32_t b = 0; b < s->n_buckets; b++) {
		uint32_t i = le32(s->base + table + (size_t)b * 4);

		while (i != 0) {
			const unsigned char *e;
			uint32_t h;

			if (i > s->n_entries || seen == s->n_entries)
				return -1;
			seen++;
			e = entry_at(s, i - 1);
			if (by_uid) {
				h = uid_hash(le32(e + E_UID));
			} else {
				const char *name = str_at(s, le32(e + E_NAME));
				h = vsnap_fnv1a(name, strlen(name));
			}
			if ((h & mask) != b)
				return -1;
			i = le32(e + (by_uid ? E_NEXT_UID : E_NEXT_NAME));
		}
	}
	return seen == s->n_entries ? 0 : -1;
}

int vsnap_parse(struct vsnap *s, const void *data, size_t size)
{
	const unsigned char *d = data;
	static const int str_fields[] = { E_NAME, E_PASSWD, E_GECOS, E_DIR, E_SHELL };

	if (size < VSNAP_HEADER_SIZE || size > UINT32_MAX)
		return -1;
	if (memcmp(d, "VIGILNS", 8) != 0 || le32(d + 8) != VSNAP_VERSION)
		return -1;
	s->base = d;
	s->size = (uint32_t)size;
	s->flags = le32(d + 12);
	s->generation = (uint64_t)le32(d + 16) | (uint64_t)le32(d + 20) << 32;
	s->n_entries = le32(d + 28);
	s->n_buckets = le32(d + 32);
	s->name_buckets = le32(d + 36);
	s->uid_buckets = le32(d + 40);
	s->entries = le32(d + 44);
	s->strings = le32(d + 48);
	s->strings_len = le32(d + 52);
	if ((s->flags & ~VSNAP_FLAG_NOBODY) != 0 || le32(d + 60) != 0 || le32(d + 24) != s->size)
		return -1;
	if (s->n_buckets == 0 || (s->n_buckets & (s->n_buckets - 1)) != 0)
		return -1;
	if (!region_ok(s->name_buckets, (uint64_t)s->n_buckets * 4, s->size) ||
	    !region_ok(s->uid_buckets, (uint64_t)s->n_buckets * 4, s->size) ||
	    !region_ok(s->entries, (uint64_t)s->n_entries * VSNAP_ENTRY_SIZE, s->size) ||
	    !region_ok(s->strings, s->strings_len, s->size))
		return -1;
	if (s->strings_len == 0 || d[s->strings + s->strings_len - 1] != 0)
		return -1;
	if (vsnap_fnv1a(d + VSNAP_HEADER_SIZE, size - VSNAP_HEADER_SIZE) != le32(d + 56))
		return -1;
	for (uint32_t i = 0; i < s->n_entries; i++) {
		const unsigned char *e = entry_at(s, i);

		if ((le32(e + E_FLAGS) & ~VSNAP_ENTRY_RECORDED) != 0)
			return -1;
		for (size_t f = 0; f < sizeof str_fields / sizeof str_fields[0]; f++)
			if (le32(e + str_fields[f]) >= s->strings_len)
				return -1;
		if (le32(e + E_NEXT_NAME) > s->n_entries || le32(e + E_NEXT_UID) > s->n_entries)
			return -1;
	}
	if (chains_ok(s, s->name_buckets, 0) != 0 || chains_ok(s, s->uid_buckets, 1) != 0)
		return -1;
	return 0;
}

static enum vsnap_find decode(const struct vsnap *s, const unsigned char *p, struct vigil_entry *e)
{
	e->flags = le32(p + E_FLAGS);
	e->uid = le32(p + E_UID);
	e->gid = le32(p + E_GID);
	e->name = str_at(s, le32(p + E_NAME));
	e->passwd = str_at(s, le32(p + E_PASSWD));
	e->gecos = str_at(s, le32(p + E_GECOS));
	e->dir = str_at(s, le32(p + E_DIR));
	e->shell = str_at(s, le32(p + E_SHELL));
	if (!e->name || !e->passwd || !e->gecos || !e->dir || !e->shell)
		return VSNAP_MISSING;
	return (e->flags & VSNAP_ENTRY_RECORDED) ? VSNAP_RECORDED : VSNAP_UNRECORDED;
}

/* Chain walks re-check indexes and stop after n_entries steps: validation
 * ran once per mapping and the file is trusted to be replaced, not edited,
 * but an edit must not make us read out of bounds or loop. */
enum vsnap_find vsnap_by_name(const struct vsnap *s, const char *name, struct vigil_entry *e)
{
	size_t len = strlen(name);
	uint32_t b = vsnap_fnv1a(name, len) & (s->n_buckets - 1);
	uint32_t i = le32(s->base + s->name_buckets + (size_t)b * 4);

	for (uint32_t steps = 0; i != 0 && i <= s->n_entries && steps < s->n_entries; steps++) {
		const unsigned char *p = entry_at(s, i - 1);
		uint32_t off = le32(p + E_NAME);

		if (off < s->strings_len && len < s->strings_len - off &&
		    memcmp(s->base + s->strings + off, name, len + 1) == 0)
			return decode(s, p, e);
		i = le32(p + E_NEXT_NAME);
	}
	return VSNAP_MISSING;
}

enum vsnap_find vsnap_by_uid(const struct vsnap *s, uint32_t uid, struct vigil_entry *e)
{
	uint32_t b = uid_hash(uid) & (s->n_buckets - 1);
	uint32_t i = le32(s->base + s->uid_buckets + (size_t)b * 4);

	for (uint32_t steps = 0; i != 0 && i <= s->n_entries && steps < s->n_entries; steps++) {
		const unsigned char *p = entry_at(s, i - 1);

		if (le32(p + E_UID) == uid)
			return decode(s, p, e);
		i = le32(p + E_NEXT_UID);
	}
	return VSNAP_MISSING;
}
