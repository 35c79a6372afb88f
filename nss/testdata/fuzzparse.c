/* Runs the C snapshot parser over many inputs for nss/nss_test.go, which
 * builds it with AddressSanitizer and compares every verdict and lookup
 * with the Go parser (policyd/nssdb).
 *
 * stdin: records of a u32 little-endian length and that many bytes.
 * stdout, per record: "invalid", or "valid GEN NOBODY N" and then for
 * each entry i, "N <hex name> -> <answer>" (the lookup of entry i's name)
 * and "U <uid> -> <answer>", where an answer is "missing" or
 * "R|U uid gid <hex name> <hex passwd> <hex gecos> <hex dir> <hex shell>".
 * Each record gets a heap buffer of exactly its size, so the sanitizer
 * sees any read past the end of the file. */
#include <stdio.h>
#include <stdlib.h>

#include "../src/snapshot.c"

static void hex(const char *s)
{
	putchar(' ');
	if (*s == '\0')
		putchar('-');
	for (; *s; s++)
		printf("%02x", (unsigned char)*s);
}

static void answer(enum vsnap_find f, const struct vigil_entry *e)
{
	printf(" ->");
	if (f == VSNAP_MISSING) {
		printf(" missing\n");
		return;
	}
	printf(" %c %u %u", f == VSNAP_RECORDED ? 'R' : 'U', e->uid, e->gid);
	hex(e->name);
	hex(e->passwd);
	hex(e->gecos);
	hex(e->dir);
	hex(e->shell);
	putchar('\n');
}

int main(void)
{
	unsigned char lenb[4];

	while (fread(lenb, 1, 4, stdin) == 4) {
		size_t len = le32(lenb);
		unsigned char *d = malloc(len ? len : 1);
		struct vsnap s;

		if (d == NULL || fread(d, 1, len, stdin) != len)
			return 2;
		if (vsnap_parse(&s, d, len) != 0) {
			printf("invalid\n");
		} else {
			printf("valid %llu %d %u\n", (unsigned long long)s.generation, (s.flags & VSNAP_FLAG_NOBODY) != 0,
			       s.n_entries);
			for (uint32_t i = 0; i < s.n_entries; i++) {
				const unsigned char *p = entry_at(&s, i);
				const char *name = str_at(&s, le32(p + E_NAME));
				struct vigil_entry e;

				printf("N");
				hex(name);
				answer(vsnap_by_name(&s, name, &e), &e);
				printf("U %u", le32(p + E_UID));
				answer(vsnap_by_uid(&s, le32(p + E_UID), &e), &e);
			}
		}
		free(d);
	}
	return 0;
}
