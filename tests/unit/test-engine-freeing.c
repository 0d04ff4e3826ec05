/* Issue 12's freeing keys end to end through the engine, the fake kernel (fake-kernel.h), the fake host bus
 * (fake-host-bus.h) and a fixture /proc, on the single-GPU desktop: prepare takes the sleep inhibitor, stops
 * the units (each job waited for), ends the seat's graphical sessions, waits for the holders to go, and only
 * then moves the devices; release gives the devices back, then starts again (reset-failed first) the units
 * that were running, in reverse order, then lets go of the inhibitor. A holder that stays past
 * holders-timeout refuses the prepare naming it, with everything undone; a hookd started after a kill -9
 * takes the inhibitor again for the VM still prepared; a display manager slower to stop than a sysfs write
 * is waited for. Fixture trees and the fake bus only: never /sys,
 * /proc or the system bus. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "engine-rig.h"
#include "engine.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "proc-fixture.h"
#include "util.h"

static struct engine_rig rig;

/* ---- one order for the bus's calls, the fake kernel's writes and the processes that exit ---- */

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static char events[16384]; /* "|"-separated; a run of kernel writes is one "kernel" */
static size_t kernel_seen; /* how much of fk_log() is merged */
static pthread_t exiting;  /* the poller that exits a little after its session ends */
static bool exiting_started;
static bool poller_lingers; /* else it goes with its session at once */

/* Lock held. */
static void event_locked(const char *what)
{
	size_t n = strlen(events);

	if (streq(what, "kernel") && n >= 6 && streq(events + n - 6, "kernel"))
		return;
	snprintf(events + n, sizeof(events) - n, "%s%s", n ? "|" : "", what);
}

/* The fake kernel's writes since the last look, as one "kernel" event. Lock held. */
static void merge_kernel_locked(void)
{
	const char *log = fk_log(rig.k);
	size_t len = strlen(log);

	if (len > kernel_seen)
		event_locked("kernel");
	kernel_seen = len;
}

static void event(const char *what)
{
	pthread_mutex_lock(&events_lock);
	merge_kernel_locked();
	event_locked(what);
	pthread_mutex_unlock(&events_lock);
}

static const char *events_now(void)
{
	pthread_mutex_lock(&events_lock);
	merge_kernel_locked();
	pthread_mutex_unlock(&events_lock);
	return events;
}

static void events_clear(void)
{
	pthread_mutex_lock(&events_lock);
	events[0] = '\0';
	kernel_seen = strlen(fk_log(rig.k));
	pthread_mutex_unlock(&events_lock);
}

/* alice's poller does not go the moment logind ends her session: it gets SIGTERM and exits 300 ms later,
 * while prepare waits for the holders. */
static void *poller_exits_later(void *userdata)
{
	const struct timespec pause = { .tv_nsec = 300 * 1000 * 1000 };

	nanosleep(&pause, NULL);
	event("poller exits");
	fx_process_exit(&rig.f, 4321);
	return NULL;
}

/* A process stuck in the kernel, as the holder scan meets one: its maps is a FIFO, whose open blocks until
 * a writer comes. The feeder is that writer for every scan until the session's end, and for two scans after
 * it (the holders-gone change's read of its value before, and at least the wait's first scan), then no
 * more: the wait's later scans cannot finish. */
static char stuck_maps[512];
static pthread_t feeder;
static bool feeder_started;
static int feeds_after_end = -1; /* -1: the session has not ended; events_lock */

static void *feed_stuck_maps(void *userdata)
{
	for (;;) {
		int fd, left;

		pthread_mutex_lock(&events_lock);
		left = feeds_after_end;
		pthread_mutex_unlock(&events_lock);
		if (left == 0)
			return NULL;
		fd = open(stuck_maps, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return NULL;
		close(fd);
		/* One feed per scan: until that scan has closed the FIFO, a writer's open would still find it. */
		while ((fd = open(stuck_maps, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0) {
			close(fd);
			nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
		}
		pthread_mutex_lock(&events_lock);
		if (feeds_after_end > 0)
			feeds_after_end--;
		pthread_mutex_unlock(&events_lock);
	}
}

/* What the host does when the engine asks: a display manager's processes go with its stop; a session's
 * with its end, a little later. The bus's calls themselves join the order as they are made. */
static void on_bus_call(void *userdata, const char *line)
{
	event(line);
	if (streq(line, "stop display-manager.service"))
		fx_process_exit(&rig.f, 1234);
	else if (streq(line, "stop sound-server.service"))
		fx_process_exit(&rig.f, 1400);
	else if (streq(line, "terminate 2") && !poller_lingers) {
		fx_process_exit(&rig.f, 4321);
		pthread_mutex_lock(&events_lock);
		if (feeder_started)
			feeds_after_end = 2;
		pthread_mutex_unlock(&events_lock);
	} else if (streq(line, "terminate 2")) {
		CHECK_INT(pthread_create(&exiting, NULL, poller_exits_later, NULL), 0);
		exiting_started = true;
	}
}

/* The desktop: Xorg of display-manager.service on the card, alice's poller (session 2 on seat0) on the
 * render node, a sound server on the audio function; nvidia-persistenced is installed but not running. */
static void setup(void)
{
	fx_machine(&rig.f);
	fx_class_node(&rig.f, GPU, "drm/card0", "drm", 226, 0, "dri/card0");
	fx_class_node(&rig.f, GPU, "drm/renderD128", "drm", 226, 128, "dri/renderD128");
	fx_class_node(&rig.f, GPU_AUDIO, "sound/card1/pcmC1D3p", "sound", 116, 11, "snd/pcmC1D3p");
	fx_process(&rig.f, 1234, "Xorg", 0, "/system.slice/display-manager.service");
	fx_process_fd(&rig.f, 1234, 11, "/dev/dri/card0");
	fx_process(&rig.f, 4321, "gpu-poller", 1000, "/user.slice/user-1000.slice/session-2.scope");
	fx_process_fd(&rig.f, 4321, 3, "/dev/dri/renderD128");
	fx_process(&rig.f, 1400, "sound-server", 0, "/system.slice/sound-server.service");
	fx_process_fd(&rig.f, 1400, 30, "/dev/snd/pcmC1D3p");
	rig_start(&rig);
	fhb_add_unit(rig.bus, "display-manager.service", "active");
	fhb_add_unit(rig.bus, "sound-server.service", "active");
	fhb_add_unit(rig.bus, "nvidia-persistenced.service", "inactive");
	fhb_add_session(rig.bus, "2", "seat0");
	events[0] = '\0';
	kernel_seen = 0;
	exiting_started = poller_lingers = false;
	rig_up(&rig);
}

static void teardown(void)
{
	if (exiting_started)
		CHECK_INT(pthread_join(exiting, NULL), 0);
	rig_teardown(&rig);
}

#define FREEING_VM                                                                                \
	"[vm]\n"                                                                                  \
	"stop-units = display-manager.service sound-server.service nvidia-persistenced.service\n" \
	"end-sessions = yes\n"                                                                    \
	"inhibit-sleep = yes\n"                                                                   \
	"holders-timeout = %s\n"                                                                  \
	"[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n"

static struct vm_config *freeing_vm(const char *holders_timeout)
{
	_cleanup_free_ char *text = NULL;

	CHECK(asprintf(&text, FREEING_VM, holders_timeout) > 0);
	return rig_vm("desk", text);
}

/* The order a user relies on: nothing of the GPU moves until what held it is gone; everything comes back,
 * the other way round, once the GPU is back; a unit that was not running stays so. */
static void test_prepare_frees_release_restores(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	c = freeing_vm("30"); /* the wait ends when the poller goes */
	poller_lingers = true;
	fhb_log_clear(rig.bus);
	fhb_observe(rig.bus, on_bus_call, NULL);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	/* the check phase reads (nothing changes before it has passed), then the changes in order */
	CHECK_STR(events_now(),
		  "unit-state display-manager.service|unit-state sound-server.service|"
		  "unit-state nvidia-persistenced.service|list-sessions seat0|"
		  "inhibit sleep|"
		  "unit-state display-manager.service|stop display-manager.service|"
		  "unit-state display-manager.service|"
		  "unit-state sound-server.service|stop sound-server.service|unit-state sound-server.service|"
		  "unit-state nvidia-persistenced.service|"
		  "list-sessions seat0|list-sessions seat0|terminate 2|list-sessions seat0|"
		  "poller exits|kernel");
	CHECK_STR(rig_driver(&rig, GPU), "vfio-pci");
	CHECK_STR(rig_driver(&rig, GPU_AUDIO), "vfio-pci");
	CHECK_STR(fhb_unit_state(rig.bus, "display-manager.service"), "inactive");
	CHECK_STR(fhb_unit_state(rig.bus, "sound-server.service"), "inactive");
	CHECK(!fhb_session_exists(rig.bus, "2"));
	CHECK_INT(fhb_inhibitors_held(rig.bus), 1);
	CHECK_INT(journal_load(rig.run_dir, "desk", &p), 0);
	CHECK_INT(p->phase, PHASE_PREPARED);

	/* The display manager failed on its way down (Xorg's exit status): systemd needs reset-failed before it
	 * starts it again. */
	fhb_add_unit(rig.bus, "display-manager.service", "failed");
	events_clear();
	CHECK_INT(engine_release(rig.e, "desk", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(events_now(), "kernel|start sound-server.service|"
				"reset-failed display-manager.service|start display-manager.service");
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	CHECK_STR(rig_driver(&rig, GPU_AUDIO), "snd_hda_intel");
	CHECK_STR(fhb_unit_state(rig.bus, "display-manager.service"), "active");
	CHECK_STR(fhb_unit_state(rig.bus, "sound-server.service"), "active");
	CHECK_STR(fhb_unit_state(rig.bus, "nvidia-persistenced.service"), "inactive"); /* not running before */
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0);
	fhb_observe(rig.bus, NULL, NULL);
	teardown();
}

/* A holder that hookd's freeing does not reach (a process of another unit) and that stays past
 * holders-timeout: prepare is refused in one line naming it; the units are running again, the inhibitor is
 * gone, and no device was touched. */
static void test_holder_that_stays_refuses(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = NULL;
	_cleanup_free_ char *msg = NULL;

	setup();
	fx_process(&rig.f, 777, "stubborn", 0, "/system.slice/stubborn.service");
	fx_process_fd(&rig.f, 777, 5, "/dev/dri/card0");
	c = freeing_vm("0.5");
	fhb_observe(rig.bus, on_bus_call, NULL);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) != 0);
	CHECK(msg && strstr(msg, "still in use by pid 777 (stubborn, user root, stubborn.service) after 0.5 s"));
	CHECK(!strchr(msg, '\n'));
	CHECK(!strstr(events_now(), "kernel"));
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	CHECK_STR(rig_driver(&rig, GPU_AUDIO), "snd_hda_intel");
	CHECK_STR(fhb_unit_state(rig.bus, "display-manager.service"), "active");
	CHECK_STR(fhb_unit_state(rig.bus, "sound-server.service"), "active");
	CHECK_STR(fhb_unit_state(rig.bus, "nvidia-persistenced.service"), "inactive");
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0);
	fhb_observe(rig.bus, NULL, NULL);
	teardown();
}

/* A display manager may take longer to stop than a sysfs write may (gdm ending its sessions; weston under
 * TCG): its job is waited for as long as the operation has left, not cut at the sysfs-timeout (2 s here). */
/* The stubborn holder again, on a host where the wait's later scans of /proc cannot finish (a process stuck
 * in the kernel; a loaded machine's ASan build met the same when a scan's slice of the last 100 ms ran
 * out): the refusal still names the holder the first scan found, not "who holds it cannot be told". */
static void test_slow_last_scan_names_the_holder(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = NULL;
	_cleanup_free_ char *msg = NULL;
	int fd;

	setup();
	fx_process(&rig.f, 777, "stubborn", 0, "/system.slice/stubborn.service");
	fx_process_fd(&rig.f, 777, 5, "/dev/dri/card0");
	fx_process(&rig.f, 888, "stuck", 0, "/system.slice/stuck.service");
	snprintf(stuck_maps, sizeof(stuck_maps), "%s/888/maps", rig.f.proc);
	CHECK(unlink(stuck_maps) == 0 && mkfifo(stuck_maps, 0600) == 0);
	feeds_after_end = -1;
	CHECK_INT(pthread_create(&feeder, NULL, feed_stuck_maps, NULL), 0);
	feeder_started = true;
	c = freeing_vm("0.5");
	fhb_observe(rig.bus, on_bus_call, NULL);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) != 0);
	CHECK(msg && strstr(msg, "still in use by pid 777 (stubborn, user root, stubborn.service) after 0.5 s"));
	CHECK(!strstr(events_now(), "kernel"));
	fhb_observe(rig.bus, NULL, NULL);
	CHECK_INT(pthread_join(feeder, NULL), 0);
	feeder_started = false;
	/* Let the scans still blocked on the FIFO go. */
	while ((fd = open(stuck_maps, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0)
		close(fd);
	teardown();
}

static void test_slow_display_manager(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	setup();
	c = freeing_vm("5");
	fhb_unit_job_takes(rig.bus, "display-manager.service", 3000);
	fhb_observe(rig.bus, on_bus_call, NULL);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK_STR(fhb_unit_state(rig.bus, "display-manager.service"), "inactive");
	CHECK_STR(rig_driver(&rig, GPU), "vfio-pci");
	CHECK_INT(engine_release(rig.e, "desk", &msg2), 0);
	CHECK_STR(fhb_unit_state(rig.bus, "display-manager.service"), "active");
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	fhb_observe(rig.bus, NULL, NULL);
	teardown();
}

/* A prepare that uses up its operation-timeout (a holder that outlasts it, with a longer holders-timeout)
 * fails; its rollback still has time to start the display manager and the sound server again and to let go
 * of the inhibitor: a desktop is not left dark because the way forward took all the time. */
static void test_rollback_after_the_deadline(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = NULL;
	_cleanup_free_ char *msg = NULL;

	setup();
	engine_free(rig.e);
	rig.operation_timeout_ms = 1000;
	rig_up(&rig);
	fx_process(&rig.f, 777, "stubborn", 0, "/system.slice/stubborn.service");
	fx_process_fd(&rig.f, 777, 5, "/dev/dri/card0");
	c = freeing_vm("30");
	fhb_unit_job_takes(rig.bus, "display-manager.service", 200);
	fhb_observe(rig.bus, on_bus_call, NULL);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) != 0);
	/* On a loaded machine the time may run out before the wait for holders: what matters is the rollback. */
	CHECK(msg && !strchr(msg, '\n'));
	CHECK(!strstr(events_now(), "kernel"));
	CHECK_STR(fhb_unit_state(rig.bus, "display-manager.service"), "active");
	CHECK_STR(fhb_unit_state(rig.bus, "sound-server.service"), "active");
	CHECK_STR(fhb_unit_state(rig.bus, "nvidia-persistenced.service"), "inactive");
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0);
	if (rig_journal_exists(&rig, "desk")) {
		_cleanup_(plan_freep) struct plan *p = rig_journal(&rig, "desk");

		CHECK_INT(p->phase, PHASE_FAILED);
	}
	fhb_observe(rig.bus, NULL, NULL);
	teardown();
}

/* kill -9 of hookd while the VM runs: the inhibitor's fd went with the process, so logind no longer holds
 * it. The next hookd's recovery takes it again for the VM still prepared, and release lets it go. The
 * prepare runs in a child, killed once it has succeeded. */
static void test_inhibitor_taken_again_after_kill(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("desk", "[vm]\ninhibit-sleep = yes\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL;
	int status;
	pid_t pid;

	setup();
	engine_free(rig.e);
	rig.e = NULL;
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *m = NULL;

		rig.k = fk_new(&rig.f);
		rig_up(&rig);
		if (engine_prepare(rig.e, c, NULL, &m) != 0)
			_exit(3);
		raise(SIGKILL);
		_exit(4);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_STR(rig_driver(&rig, NVME_A), "vfio-pci");
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0); /* the child's went with it */

	rig_up(&rig); /* the next hookd */
	CHECK_STR(fhb_log(rig.bus), "inhibit sleep\n");
	CHECK_INT(fhb_inhibitors_held(rig.bus), 1);
	/* a second recovery in the same process does not take a second one */
	engine_free(rig.e);
	rig_up(&rig);
	CHECK_INT(fhb_inhibitors_held(rig.bus), 1);

	CHECK_INT(engine_release(rig.e, "desk", &msg), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0);
	teardown();
}

/* Only a prepared VM's inhibitor is taken again: an interrupted prepare is left for release to undo. */
static void test_interrupted_prepare_takes_nothing(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("desk", "[vm]\ninhibit-sleep = yes\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL;

	setup();
	rig_prepare_killed(&rig, c, "crash-at:unbind:" NVME_A, NULL);
	rig_up(&rig);
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0);
	CHECK_STR(fhb_log(rig.bus), "");
	CHECK_INT(engine_release(rig.e, "desk", &msg), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_INT(fhb_inhibitors_held(rig.bus), 0);
	teardown();
#endif
}

int main(void)
{
	RUN(test_prepare_frees_release_restores);
	RUN(test_holder_that_stays_refuses);
	RUN(test_slow_last_scan_names_the_holder);
	RUN(test_slow_display_manager);
	RUN(test_rollback_after_the_deadline);
	RUN(test_inhibitor_taken_again_after_kill);
	RUN(test_interrupted_prepare_takes_nothing);
	return 0;
}
