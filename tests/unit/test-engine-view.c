/* engine-view (hookd/daemon/engine-view.h), the devices' view io.hookd.Status shows, over the engine rig: a
 * view read before a prepare finished must not be given out as current. The view's read is held up on
 * purpose by a FIFO in place of the device's "class" attribute (the read blocks until the test writes it),
 * so "still reading" is a fact, not a timing guess. Fixture trees only, never /sys. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "engine-rig.h"
#include "engine-view.h"
#include "engine.h"
#include "util.h"

#define USEC_PER_MSEC 1000ull

static struct engine_rig rig;
static sd_event *loop;
static struct engine_view *view;
static char class_path[256];

/* What one request got. */
struct answer {
	bool done;
	bool outdated;
	char nas[32];  /* VM nas's state in the view; "absent" when the view does not have it */
	char nas2[32]; /* VM nas2's */
};

static void on_answer(void *userdata, json_object *engine_vms, uint64_t age_usec, bool outdated)
{
	struct answer *a = userdata;

	a->done = true;
	a->outdated = outdated;
	snprintf(a->nas, sizeof(a->nas), "absent");
	snprintf(a->nas2, sizeof(a->nas2), "absent");
	for (size_t i = 0; engine_vms && i < json_object_array_length(engine_vms); i++) {
		json_object *vm = json_object_array_get_idx(engine_vms, i);
		const char *name = json_object_get_string(json_object_object_get(vm, "name"));
		const char *state = json_object_get_string(json_object_object_get(vm, "state"));

		if (streq(name, "nas"))
			snprintf(a->nas, sizeof(a->nas), "%s", state);
		else if (streq(name, "nas2"))
			snprintf(a->nas2, sizeof(a->nas2), "%s", state);
	}
}

/* The view's next read of the device blocks in "class" until release_class(). */
static void block_class(void)
{
	CHECK(unlink(class_path) == 0);
	CHECK(mkfifo(class_path, 0644) == 0);
}

/* Let the blocked read through (it is in open() of the FIFO, so this open does not wait long), and make
 * "class" a plain file again for the reads after it. */
static void release_class(void)
{
	int fd = open(class_path, O_WRONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK(unlink(class_path) == 0);
	fx_write(&rig.f, "sys", "bus/pci/devices/" NVME_A "/class", "0x010802");
	CHECK(write(fd, "0x010802\n", 9) == 9);
	close(fd);
}

static int on_release_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	release_class();
	return 0;
}

/* A Status request's view: asks, then runs the loop until the answer. RELEASE_AFTER_MS > 0: the blocked
 * read is let through that long after the request (on the loop, as hookd's read would end by itself). */
static void ask(uint64_t changed_usec, uint64_t wait_ms, uint64_t outdated_wait_ms, unsigned release_after_ms,
		struct answer *a)
{
	char *const none[] = { NULL };
	sd_event_source *timer = NULL;

	*a = (struct answer){ 0 };
	if (release_after_ms)
		CHECK(sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, release_after_ms * USEC_PER_MSEC, 0,
						 on_release_timer, NULL) >= 0);
	CHECK_INT(engine_view_get(view, none, changed_usec, wait_ms * USEC_PER_MSEC, outdated_wait_ms * USEC_PER_MSEC,
				  on_answer, a),
		  0);
	while (!a->done)
		CHECK(sd_event_run(loop, UINT64_MAX) >= 0);
	sd_event_source_disable_unref(timer);
}

/* Run the loop until the read in progress has handed its view over. */
static void wait_read_done(void)
{
	while (engine_view_busy(view))
		CHECK(sd_event_run(loop, UINT64_MAX) >= 0);
}

/* A slow read after a prepare finished: the request waits past its usual bound for it, not answered with
 * the view from before the prepare (hookctl status showed a VM started by virsh without hookd's state, its
 * read of 47 host changes taking over 500 ms in the systemd guest). */
static void test_outdated_view_waits_for_the_read(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL;
	struct answer a;
	uint64_t changed;

	ask(0, 50, 50, 0, &a);
	CHECK_STR(a.nas, "absent");
	CHECK(!a.outdated);

	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	changed = monotonic_usec();
	block_class();
	/* Usual bound 50 ms, outdated 60 s: answered when the read ends (let through at 300 ms), fresh. */
	ask(changed, 50, 60000, 300, &a);
	CHECK_STR(a.nas, "prepared");
	CHECK(!a.outdated);
}

/* A read stuck past the longer bound too (nas's device holds it up): the answer comes, from the last view,
 * and says it is outdated. */
static void test_stuck_read_answers_outdated(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas2", "[device.b]\naddress = 05:00.0\n");
	_cleanup_free_ char *msg = NULL;
	struct answer a;
	uint64_t changed;

	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	changed = monotonic_usec();
	block_class();
	ask(changed, 20, 100, 0, &a);
	CHECK_STR(a.nas2, "absent"); /* the last view, from before nas2's prepare */
	CHECK(a.outdated);
	release_class();
	wait_read_done();
	ask(changed, 50, 60000, 0, &a);
	CHECK_STR(a.nas, "prepared");
	CHECK_STR(a.nas2, "prepared");
	CHECK(!a.outdated);
}

int main(void)
{
	rig_setup(&rig);
	snprintf(class_path, sizeof(class_path), "%s/bus/pci/devices/" NVME_A "/class", rig.f.sys);
	CHECK(sd_event_new(&loop) >= 0);
	CHECK_INT(engine_view_new(loop, rig.e, &view), 0);

	RUN(test_outdated_view_waits_for_the_read);
	RUN(test_stuck_read_answers_outdated);

	wait_read_done();
	engine_view_free(view);
	sd_event_unref(loop);
	rig_teardown(&rig);
	return 0;
}
