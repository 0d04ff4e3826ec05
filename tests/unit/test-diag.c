/* Unit tests of hookd/lib/diag.c: collecting problems and joining them. */
#include <stdlib.h>

#include "diag.h"
#include "test.h"

static void test_collect_and_join(void)
{
	struct diag d = { 0 };
	char *all;

	CHECK(diag_join(&d, "\n") == NULL);
	diag_add(&d, "%s:%d: %s", "vms/win10.ini", 7, "unknown key 'adress'");
	diag_add(&d, "second");
	diag_add(&d, "%s", "");
	CHECK_INT(d.n, 3);
	CHECK_STR(d.lines[0], "vms/win10.ini:7: unknown key 'adress'");
	all = diag_join(&d, "\n");
	CHECK_STR(all, "vms/win10.ini:7: unknown key 'adress'\nsecond\n");
	free(all);
	all = diag_join(&d, "; ");
	CHECK_STR(all, "vms/win10.ini:7: unknown key 'adress'; second; ");
	free(all);

	diag_clear(&d);
	CHECK_INT(d.n, 0);
	CHECK(d.lines == NULL);
	CHECK(diag_join(&d, "\n") == NULL);
	/* Cleared diags are reusable; clearing twice is harmless. */
	diag_add(&d, "again");
	CHECK_INT(d.n, 1);
	diag_clear(&d);
	diag_clear(&d);
}

static void test_null_diag(void)
{
	/* Callers that do not want messages pass NULL. */
	diag_add(NULL, "ignored %d", 1);
	CHECK(diag_join(NULL, "\n") == NULL);
	diag_clear(NULL);
}

static void test_many(void)
{
	struct diag d = { 0 };
	char *all;

	for (int i = 0; i < 1000; i++)
		diag_add(&d, "line %d", i);
	CHECK_INT(d.n, 1000);
	CHECK_STR(d.lines[999], "line 999");
	all = diag_join(&d, "\n");
	CHECK(all && strlen(all) > 8000);
	free(all);
	diag_clear(&d);
}

int main(void)
{
	RUN(test_collect_and_join);
	RUN(test_null_diag);
	RUN(test_many);
	return 0;
}
