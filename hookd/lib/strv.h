/* String vectors: NULL-terminated arrays of heap strings (char **), the shape every list of names in hookd
 * has (PCI addresses, group members, journals, VM files, legacy scripts). A vector and its strings belong to
 * whoever holds the vector; strv_free() frees both. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

void strv_free(char **v);
static inline void strv_freep(char ***v)
{
	strv_free(*v);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

/* Entries before the NULL; 0 for a NULL vector. */
size_t strv_length(char *const *v);

/* Whether S is one of V's entries (V may be NULL). */
bool strv_contains(char *const *v, const char *s);

/* Append a copy of S to *V, which holds *N entries (*V may be NULL when *N is 0); *V stays NULL-terminated.
 * 0 or -ENOMEM (*V unchanged but for its allocation). */
int strv_push(char ***v, size_t *n, const char *s);

/* Sort bytewise (strcmp, never the locale), so every listing is the same on every machine. */
void strv_sort(char **v);

/* A qsort() comparator for arrays of strings (char * or const char *). */
int strv_compare(const void *a, const void *b);

/* The names in directory DIR, sorted as strv_sort() does. Hidden names (starting with '.') are left out; with
 * SUFFIX only names longer than SUFFIX that end in it are kept, and returned without it; with KEEP only the
 * names KEEP(name, userdata) accepts (it sees the whole name). *ret is never NULL on success (it may be
 * empty). -errno of opendir()/readdir() (-ENOENT: no such directory), or -ENOMEM. */
int strv_from_dir(const char *dir, const char *suffix, bool (*keep)(const char *name, void *userdata), void *userdata,
		  char ***ret);
