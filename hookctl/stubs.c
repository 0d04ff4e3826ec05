#include <errno.h>
#include "hookctl.h"
int cmd_status(struct hookctl *ctx, int argc, char **argv) { return -ENOSYS; }
int cmd_check(struct hookctl *ctx, int argc, char **argv) { return -ENOSYS; }
int cmd_prepare(struct hookctl *ctx, int argc, char **argv) { return -ENOSYS; }
int cmd_release(struct hookctl *ctx, int argc, char **argv) { return -ENOSYS; }
