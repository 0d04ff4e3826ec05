/* The ordinary build's stand-in for libFuzzer's driver: every regular file of the directories given (or the
 * files themselves) goes through LLVMFuzzerTestOneInput once. The seed corpora and past crashes thus run
 * as regression tests in every build; a target that aborts fails the test. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util.h"

/* As tests/fuzz/run-fuzzer's -max_len: longer inputs are not replayed whole by libFuzzer either. */
#define REPLAY_MAX (1024u * 1024u)

static int replay_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "rbe");
	_cleanup_free_ char *buf = NULL;
	size_t len;

	if (!f)
		return negative_errno();
	buf = malloc(REPLAY_MAX);
	if (!buf)
		return -ENOMEM;
	len = fread(buf, 1, REPLAY_MAX, f);
	if (ferror(f))
		return -EIO;
	/* An exact-size copy, so that ASan sees any read past the input's end. */
	{
		_cleanup_free_ char *exact = malloc(len ? len : 1);

		if (!exact)
			return -ENOMEM;
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput((const uint8_t *)exact, len);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 0;

	for (int i = 1; i < argc; i++) {
		_cleanup_closedir_ DIR *dir = opendir(argv[i]);
		struct dirent *de;

		if (!dir) {
			if (replay_file(argv[i]) < 0) {
				fprintf(stderr, "%s: %m\n", argv[i]);
				return 1;
			}
			n++;
			continue;
		}
		while ((de = readdir(dir))) {
			_cleanup_free_ char *path = NULL;

			if (de->d_name[0] == '.')
				continue;
			if (asprintf(&path, "%s/%s", argv[i], de->d_name) < 0)
				return 1;
			if (replay_file(path) < 0) {
				fprintf(stderr, "%s: cannot read\n", path);
				return 1;
			}
			n++;
		}
	}
	if (n == 0) {
		fprintf(stderr, "no inputs replayed\n");
		return 1;
	}
	printf("replayed %u inputs\n", n);
	return 0;
}
