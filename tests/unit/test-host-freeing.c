/* Issue 12's freeing kinds (host-freeing.h), each half on its own through the fake host bus
 * (fake-host-bus.h) and a fixture /proc, and what hookctl check plans from a VM's freeing keys. Fixture trees
 * and the fake bus only: never /sys, /proc or the system bus. */
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "engine-fixture.h"
#include "engine.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "host-freeing.h"
#include "proc-fixture.h"
#include "strv.h"
#include "util.h"

static struct fixture f;
static struct fake_host_bus *bus;
static struct host_context ctx;

static void setup(void)
{
	fx_machine(&f);
	fx_class_node(&f, GPU, "drm/card0", "drm", 226, 0, "dri/card0");
	bus = fhb_new();
	ctx = (struct host_context){ .vm = "win10",
				     .sysfs_root = f.sys,
				     .proc_root = f.proc,
				     .run_dir = f.run,
				     .bus = fhb_bus(bus),
				     .timeout_ms = 5000 };
}

static void teardown(void)
{
	fhb_free(bus);
	fx_clear(&f);
}

static struct plan_host_change change(enum host_change_kind kind, const char *target, const char *wanted,
				      const char *before)
{
	struct plan_host_change c = { .kind = kind, .step = HOST_CHANGE_APPLYING };

	c.target = strdup(target);
	c.wanted = strdup(wanted);
	c.before = before ? strdup(before) : NULL;
	CHECK(c.target && c.wanted && (!before || c.before));
	return c;
}

#define DM "display-manager.service"

/* setup(), with UNIT in systemd in STATE, and the plan's change stopping it (journaled with BEFORE, or NULL). */
static struct plan_host_change setup_unit(const char *unit, const char *state, const char *before)
{
	setup();
	fhb_add_unit(bus, unit, state);
	return change(HOST_UNIT_STOPPED, unit, "stop", before);
}

/* Graphical sessions 2 and 5 on seat0. */
static void two_sessions_on_seat0(void)
{
	fhb_add_session(bus, "2", "seat0");
	fhb_add_session(bus, "5", "seat0");
}

/* The display manager's Xorg with the GPU's card0 open. */
static void xorg_on_card0(void)
{
	fx_process(&f, 1234, "Xorg", 0, "/system.slice/" DM);
	fx_process_fd(&f, 1234, 11, "/dev/dri/card0");
}

/* ---- unit-stopped ---- */

static void test_unit_read_and_check(void)
{
	struct plan_host_change c = setup_unit(DM, "active", NULL);
	struct plan_host_change none = change(HOST_UNIT_STOPPED, "nope.service", "stop", NULL);
	_cleanup_free_ char *state = NULL, *why = NULL;

	CHECK_INT(host_unit_stopped_reader.read(&ctx, &c, &state), 0);
	CHECK_STR(state, "active");
	CHECK_INT(host_unit_stopped_reader.check(&ctx, &c, &why), 0);
	CHECK_INT(host_unit_stopped_reader.check(&ctx, &none, &why), -ENOENT);
	CHECK_STR(why, "systemd has no such unit");
	/* read-only checks: nothing stopped */
	CHECK_STR(fhb_unit_state(bus, DM), "active");
	plan_host_change_clear(&c);
	plan_host_change_clear(&none);
	teardown();
}

static void test_unit_stopped_and_started(void)
{
	struct plan_host_change c = setup_unit(DM, "active", "active");
	_cleanup_free_ char *why = NULL;

	CHECK_INT(host_unit_stopped_writer.apply(&ctx, &c, "stop", &why), 0);
	CHECK_STR(c.applied, "stopped");
	CHECK_STR(fhb_unit_state(bus, DM), "inactive");
	/* another VM still has it stopped: the remaining holders' combination is "stop" */
	fhb_log_clear(bus);
	CHECK_INT(host_unit_stopped_writer.restore(&ctx, &c, "stop", &why), 0);
	CHECK_STR(fhb_unit_state(bus, DM), "inactive");
	CHECK(!strstr(fhb_log(bus), "start"));
	/* the last one gives back `before` */
	fhb_add_unit(bus, DM, "failed");
	CHECK_INT(host_unit_stopped_writer.restore(&ctx, &c, "active", &why), 0);
	CHECK_STR(fhb_unit_state(bus, DM), "active");
	CHECK(strstr(fhb_log(bus), "reset-failed display-manager.service\nstart display-manager.service"));
	plan_host_change_clear(&c);
	teardown();
}

/* A unit that was not running is recorded, never stopped, never started afterwards. */
static void test_unit_not_running(void)
{
	struct plan_host_change c = setup_unit("nvidia-persistenced.service", "inactive", "inactive");
	_cleanup_free_ char *why = NULL;

	CHECK_INT(host_unit_stopped_writer.apply(&ctx, &c, "stop", &why), 0);
	CHECK_STR(c.applied, "not-running");
	CHECK_INT(host_unit_stopped_writer.restore(&ctx, &c, "inactive", &why), 0);
	CHECK_STR(fhb_unit_state(bus, "nvidia-persistenced.service"), "inactive");
	CHECK(!strstr(fhb_log(bus), "stop ") && !strstr(fhb_log(bus), "start "));
	plan_host_change_clear(&c);
	teardown();
}

static void test_unit_stop_fails(void)
{
	struct plan_host_change c = setup_unit(DM, "active", "active");
	_cleanup_free_ char *why = NULL;

	fhb_fail(bus, FHB_STOP_UNIT, DM, -EIO, "systemd: stopping display-manager.service: job failed");
	CHECK_INT(host_unit_stopped_writer.apply(&ctx, &c, "stop", &why), -EIO);
	CHECK_STR(why, "systemd: stopping display-manager.service: job failed");
	CHECK_STR(fhb_unit_state(bus, DM), "active");
	plan_host_change_clear(&c);
	teardown();
}

/* Recovery after a crash between the journal's APPLYING and the stop: nothing says it was not stopped, so
 * release starts it (a running unit's start is a no-op for systemd). */
static void test_unit_restore_after_crash(void)
{
	struct plan_host_change c = setup_unit(DM, "inactive", "active");
	_cleanup_free_ char *why = NULL;

	CHECK(!c.applied);
	CHECK_INT(host_unit_stopped_writer.restore(&ctx, &c, "active", &why), 0);
	CHECK_STR(fhb_unit_state(bus, DM), "active");
	plan_host_change_clear(&c);
	teardown();
}

/* ---- session-ended ---- */

static void test_sessions_ended(void)
{
	struct plan_host_change c = change(HOST_SESSION_ENDED, "seat0", "end", NULL);
	_cleanup_free_ char *before = NULL, *why = NULL;

	setup();
	two_sessions_on_seat0();
	fhb_add_session(bus, "7", "seat1");
	CHECK_INT(host_session_ended_reader.check(&ctx, &c, &why), 0);
	CHECK_INT(host_session_ended_reader.read(&ctx, &c, &before), 0);
	CHECK_STR(before, "2 5");
	CHECK_INT(host_session_ended_writer.apply(&ctx, &c, "end", &why), 0);
	CHECK_STR(c.applied, "2 5");
	CHECK(!fhb_session_exists(bus, "2") && !fhb_session_exists(bus, "5"));
	CHECK(fhb_session_exists(bus, "7")); /* another seat's */
	/* nothing to give back, and nothing is done */
	fhb_log_clear(bus);
	CHECK_INT(host_session_ended_writer.restore(&ctx, &c, "", &why), 0);
	CHECK_STR(fhb_log(bus), "");
	plan_host_change_clear(&c);
	teardown();
}

static void test_session_end_fails(void)
{
	struct plan_host_change c = change(HOST_SESSION_ENDED, "seat0", "end", "2 5");
	_cleanup_free_ char *why = NULL;

	setup();
	two_sessions_on_seat0();
	fhb_fail(bus, FHB_TERMINATE_SESSION, "5", -ETIMEDOUT, "logind: session 5 was still there after 5 s");
	CHECK_INT(host_session_ended_writer.apply(&ctx, &c, "end", &why), -ETIMEDOUT);
	CHECK_STR(why, "logind: session 5 was still there after 5 s");
	CHECK_STR(c.applied, "2"); /* what was ended is recorded all the same */
	plan_host_change_clear(&c);
	teardown();
}

/* ---- sleep-inhibited ---- */

static void test_inhibitor_per_vm(void)
{
	struct plan_host_change c = change(HOST_SLEEP_INHIBITED, "sleep", "block", "");
	struct host_context other = ctx;
	_cleanup_free_ char *why = NULL;

	setup();
	other = ctx;
	other.vm = "linux";
	CHECK_INT(host_sleep_inhibited_writer.apply(&ctx, &c, "block", &why), 0);
	CHECK_STR(c.applied, "held");
	CHECK_INT(fhb_inhibitors_held(bus), 1);
	CHECK(strstr(fhb_log(bus), "inhibit sleep"));
	/* applied again (a retried prepare): still the one inhibitor */
	CHECK_INT(host_sleep_inhibited_writer.apply(&ctx, &c, "block", &why), 0);
	CHECK_INT(fhb_inhibitors_held(bus), 1);
	CHECK_INT(host_sleep_inhibited_writer.apply(&other, &c, "block", &why), 0);
	CHECK_INT(fhb_inhibitors_held(bus), 2);
	/* each VM gives back its own */
	CHECK_INT(host_sleep_inhibited_writer.restore(&ctx, &c, "block", &why), 0);
	CHECK_INT(fhb_inhibitors_held(bus), 1);
	CHECK_INT(host_sleep_inhibited_writer.restore(&ctx, &c, "", &why), 0);
	CHECK_INT(fhb_inhibitors_held(bus), 1);
	CHECK_INT(host_sleep_inhibited_writer.restore(&other, &c, "", &why), 0);
	CHECK_INT(fhb_inhibitors_held(bus), 0);
	plan_host_change_clear(&c);
	teardown();
}

/* ---- holders-gone ---- */

static void *remove_xorg_later(void *userdata)
{
	const struct timespec pause = { .tv_nsec = 300 * 1000 * 1000 };

	nanosleep(&pause, NULL);
	fx_process_exit(&f, 1234);
	return NULL;
}

static void test_holders_gone(void)
{
	struct plan_host_change now = change(HOST_HOLDERS_GONE, GPU, "0", NULL);
	struct plan_host_change wait = change(HOST_HOLDERS_GONE, GPU, "20000", NULL);
	_cleanup_free_ char *why = NULL, *count = NULL;
	pthread_t thread;

	setup();
	xorg_on_card0();
	CHECK_INT(host_holders_gone_reader.read(&ctx, &now, &count), 0);
	CHECK_STR(count, "1");
	CHECK_INT(host_holders_gone_reader.check(&ctx, &now, &why), 0);
	/* holders-timeout = 0: one look, refused naming who is left */
	CHECK_INT(host_holders_gone_writer.apply(&ctx, &now, "0", &why), -EBUSY);
	CHECK_STR(why, "still in use by pid 1234 (Xorg, user root, display-manager.service) after 0 s");
	/* it goes while prepare waits */
	CHECK_INT(pthread_create(&thread, NULL, remove_xorg_later, NULL), 0);
	CHECK_INT(host_holders_gone_writer.apply(&ctx, &wait, "20000", &why), 0);
	CHECK_INT(pthread_join(thread, NULL), 0);
	CHECK_STR(wait.applied, "gone");
	plan_host_change_clear(&now);
	plan_host_change_clear(&wait);
	teardown();
}

/* ---- the GPU's seat ---- */

static void test_drm_card_seat(void)
{
	_cleanup_free_ char *card = NULL, *udev = NULL, *seat = NULL;

	setup();
	CHECK(asprintf(&card, "%s/bus/pci/devices/" GPU "/drm/card0", f.sys) > 0);
	CHECK(asprintf(&udev, "%s/udev-data", f.base) > 0);
	CHECK_INT(drm_card_seat(card, NULL, &seat), 0);
	CHECK_STR(seat, "seat0");
	free(seat);
	/* no database entry for the card: the first seat */
	CHECK_INT(drm_card_seat(card, udev, &seat), 0);
	CHECK_STR(seat, "seat0");
	free(seat);
	fx_write(&f, "udev-data", "c226:0",
		 "S:dri/by-path/pci-0000:0a:00.0-card\nE:ID_PATH=pci-0000:0a:00.0\n"
		 "E:ID_SEAT=seat1\nG:seat\n");
	CHECK_INT(drm_card_seat(card, udev, &seat), 0);
	CHECK_STR(seat, "seat1");
	free(seat);
	/* a value that is no seat name is not used */
	fx_write(&f, "udev-data", "c226:0", "E:ID_SEAT=../seat1\n");
	CHECK_INT(drm_card_seat(card, udev, &seat), 0);
	CHECK_STR(seat, "seat0");
	teardown();
}

/* ---- what check plans from the keys ---- */

static json_object *check_vm(const char *text, struct engine **ret_engine)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };
	json_object *o = NULL;

	CHECK_INT(engine_new_read_only(&(struct engine_options){ .sysfs_root = f.sys,
								 .proc_root = f.proc,
								 .run_dir = f.run,
								 .sysfs_timeout_ms = 2000,
								 .operation_timeout_ms = 60000,
								 .host_bus = fhb_bus(bus) },
				       ret_engine),
		  0);
	CHECK_INT(vm_config_parse_string("win10", text, "win10.ini", &c, &d), 0);
	CHECK_INT(engine_check(*ret_engine, c, NULL, &o), 0);
	vm_config_free(c);
	return o;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static char *changes_of(json_object *check)
{
	json_object *plan, *list;
	struct diag d = { 0 };
	char *s;

	CHECK(json_object_object_get_ex(check, "plan", &plan) && plan);
	CHECK(json_object_object_get_ex(plan, "host_changes", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *c = json_object_array_get_idx(list, i);

		diag_add(&d, "%s %s %s", json_str(c, "kind"), json_str(c, "target"), json_str(c, "wanted"));
	}
	s = diag_join(&d, "\n");
	diag_clear(&d);
	return s ? s : strdup("");
}

static char *lines_of(json_object *check, const char *key)
{
	json_object *list;
	struct diag d = { 0 };
	char *s;

	CHECK(json_object_object_get_ex(check, key, &list));
	for (size_t i = 0; i < json_object_array_length(list); i++)
		diag_add(&d, "%s", json_object_get_string(json_object_array_get_idx(list, i)));
	s = diag_join(&d, "\n");
	diag_clear(&d);
	return s ? s : strdup("");
}

static void test_check_plans_freeing(void)
{
	struct engine *e = NULL;
	json_object *o;
	_cleanup_free_ char *changes = NULL, *warnings = NULL, *problems = NULL;

	setup();
	fhb_add_unit(bus, DM, "active");
	fhb_add_unit(bus, "nvidia-persistenced.service", "inactive");
	fhb_add_session(bus, "2", "seat0");
	xorg_on_card0();
	o = check_vm("[vm]\n"
		     "stop-units = display-manager.service nvidia-persistenced.service\n"
		     "end-sessions = yes\n"
		     "inhibit-sleep = yes\n"
		     "holders-timeout = 4\n"
		     "[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n",
		     &e);
	changes = changes_of(o);
	/* the inhibitor first, then units in the order given, the GPU's seat, a wait per device */
	CHECK_STR(changes, "sleep-inhibited sleep block\n"
			   "unit-stopped display-manager.service stop\n"
			   "unit-stopped nvidia-persistenced.service stop\n"
			   "session-ended seat0 end\n"
			   "holders-gone 0000:0a:00.0 4000\n"
			   "holders-gone 0000:0a:00.1 4000\n"
			   "holders-gone 0000:0a:00.2 4000\n"
			   "holders-gone 0000:0a:00.3 4000");
	/* the display manager's Xorg is freed and waited for, not refused */
	problems = lines_of(o, "problems");
	CHECK_STR(problems, "");
	warnings = lines_of(o, "warnings");
	CHECK(strstr(warnings, "VM win10: 0000:0a:00.0 (gpu) is in use by pid 1234 (Xorg, user root, "
			       "display-manager.service): prepare frees it and waits for it to go"));
	CHECK(json_object_get_boolean(json_object_object_get(o, "ok")));
	/* a check changes nothing */
	CHECK_STR(fhb_unit_state(bus, DM), "active");
	CHECK(fhb_session_exists(bus, "2"));
	CHECK_INT(fhb_inhibitors_held(bus), 0);
	json_object_put(o);
	engine_free(e);
	teardown();
}

static void test_check_refuses(void)
{
	struct engine *e = NULL;
	json_object *o;
	_cleanup_free_ char *problems = NULL, *changes = NULL;

	setup();
	xorg_on_card0();
	/* a unit systemd does not have */
	o = check_vm("[vm]\nstop-units = display-manager.service\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n",
		     &e);
	problems = lines_of(o, "problems");
	CHECK_STR(problems, "VM win10: unit-stopped display-manager.service: systemd has no such unit");
	json_object_put(o);
	engine_free(e);
	free(problems);

	/* without freeing keys, the holder refuses, as before */
	o = check_vm("[vm]\ninhibit-sleep = yes\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n", &e);
	problems = lines_of(o, "problems");
	CHECK_STR(problems, "VM win10: 0000:0a:00.0 (gpu) is in use by pid 1234 (Xorg, user root, "
			    "display-manager.service)");
	changes = changes_of(o);
	CHECK_STR(changes, "sleep-inhibited sleep block");
	json_object_put(o);
	engine_free(e);
	teardown();
}

int main(void)
{
	RUN(test_unit_read_and_check);
	RUN(test_unit_stopped_and_started);
	RUN(test_unit_not_running);
	RUN(test_unit_stop_fails);
	RUN(test_unit_restore_after_crash);
	RUN(test_sessions_ended);
	RUN(test_session_end_fails);
	RUN(test_inhibitor_per_vm);
	RUN(test_holders_gone);
	RUN(test_drm_card_seat);
	RUN(test_check_plans_freeing);
	RUN(test_check_refuses);
	return 0;
}
