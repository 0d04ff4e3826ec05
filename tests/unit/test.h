/* A few assert-style checks for the unit tests: each failure prints the file:line of the check and exits 1. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

#define CHECK_INT(a, b)                                                                                              \
	do {                                                                                                         \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                                     \
		if (_a != _b) {                                                                                      \
			fprintf(stderr, "%s:%d: %s == %s failed: %jd != %jd\n", __FILE__, __LINE__, #a, #b, _a, _b); \
			exit(1);                                                                                     \
		}                                                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                                                        \
	do {                                                                                                   \
		const char *_a = (a), *_b = (b);                                                               \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                                       \
			fprintf(stderr, "%s:%d: %s == %s failed:\n  got:      %s\n  expected: %s\n", __FILE__, \
				__LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");                     \
			exit(1);                                                                               \
		}                                                                                              \
	} while (0)

/* Run one test function, naming it so that a failure is easy to place. */
#define RUN(fn)                                   \
	do {                                      \
		fprintf(stderr, "--- %s\n", #fn); \
		fn();                             \
	} while (0)
