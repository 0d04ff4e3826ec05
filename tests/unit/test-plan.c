/* The plan: device resolution (address, match, ambiguity, whole-group, hostdev XML), the checks made before
 * anything is touched (viability naming the missing members, host use, boot console), the journal format
 * round trip, and the module unload order. */
#include "checks.h"
#include "config.h"
#include "engine-fixture.h"
#include "modules.h"
#include "plan.h"
#include "util.h"

static struct fixture f;
static struct topology t;

static struct vm_config *vm(const char *text)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	if (vm_config_parse_string("win10", text, "vms/win10.ini", &c, &d) < 0) {
		_cleanup_free_ char *all = diag_join(&d, "\n");

		fprintf(stderr, "config does not parse:\n%s\n", all);
		exit(1);
	}
	return c;
}

/* Resolve and check TEXT; return the problems joined by "\n" (or NULL) and the plan in *ret. */
static char *plan_of(const char *text, const char *xml, struct plan **ret)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm(text);
	struct plan *p = NULL;
	struct diag d = { 0 };
	char *all;
	int r;

	r = plan_resolve(&t, c, xml, &p, &d);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		CHECK(plan_check_devices(&t, p, &d, NULL, NULL) == (d.n > 0 ? ENGINE_REFUSED : 0));
	all = diag_join(&d, "\n");
	diag_clear(&d);
	if (ret)
		*ret = p;
	else
		plan_free(p);
	return all;
}

static void test_address_and_group(void)
{
	struct plan *p;
	_cleanup_free_ char *problems = plan_of("[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n", NULL, &p);

	CHECK(problems == NULL);
	/* The bridge in group 28 is not taken; every other endpoint is, in group order. */
	CHECK_INT(p->n_devices, 4);
	CHECK_STR(p->devices[0].address, GPU);
	CHECK_STR(p->devices[0].name, "gpu");
	CHECK_STR(p->devices[0].original_driver, "nvidia");
	CHECK_STR(p->devices[0].original_module, "nvidia");
	CHECK_STR(p->devices[1].address, GPU_AUDIO);
	CHECK_STR(p->devices[1].name, "gpu+group");
	CHECK_STR(p->devices[3].address, GPU_UCSI);
	CHECK_STR(p->devices[3].original_driver, "nvidia-gpu");
	CHECK(p->devices[3].original_module == NULL);
	CHECK_INT(p->devices[3].iommu_group, 28);
	plan_free(p);
}

static void test_not_viable(void)
{
	_cleanup_free_ char *problems =
		plan_of("[device.gpu]\naddress = 0a:00.0\n[device.audio]\naddress = 0a:00.1\n", NULL, NULL);

	CHECK_STR(problems, "VM win10: " GPU " (gpu): IOMMU group 28 is not viable, these members must go to the VM "
			    "too: " GPU_USB " (10de:1ad6 on xhci_hcd), " GPU_UCSI " (10de:1ad7 on nvidia-gpu) (add "
			    "them, or set whole-group = yes)");

	/* Members on vfio-pci, pci-stub or no driver do not spoil the group. */
	fx_link(&f, "bus/pci/devices/" GPU_USB "/driver", "../../drivers/pci-stub");
	fx_unlink(&f, "bus/pci/devices/" GPU_UCSI "/driver");
	free(problems);
	problems = plan_of("[device.gpu]\naddress = 0a:00.0\n[device.audio]\naddress = 0a:00.1\n", NULL, NULL);
	CHECK(problems == NULL);
	fx_link(&f, "bus/pci/devices/" GPU_USB "/driver", "../../drivers/xhci_hcd");
	fx_link(&f, "bus/pci/devices/" GPU_UCSI "/driver", "../../drivers/nvidia-gpu");
}

static void test_match(void)
{
	struct plan *p;
	_cleanup_free_ char *ambiguous = plan_of("[device.ssd]\nmatch = 144d:a808\n", NULL, NULL);
	_cleanup_free_ char *none = plan_of("[device.ssd]\nmatch = 144d:ffff\n", NULL, NULL);
	_cleanup_free_ char *many = plan_of("[device.ssd]\nmatch = 144d:a808\nmatch-many = yes\n", NULL, &p);
	_cleanup_free_ char *one = NULL;

	CHECK_STR(ambiguous, "VM win10: ssd: match 144d:a808 is ambiguous, it finds " NVME_A ", " NVME_B
			     " (set match-many = yes to take all)");
	CHECK_STR(none, "VM win10: ssd: no PCI device matches 144d:ffff");
	CHECK(many == NULL);
	CHECK_INT(p->n_devices, 2);
	CHECK_STR(p->devices[1].address, NVME_B);
	plan_free(p);
	one = plan_of("[device.gpu]\nmatch = 10de:1e04\nwhole-group = yes\n", NULL, &p);
	CHECK(one == NULL);
	CHECK_STR(p->devices[0].address, GPU);
	plan_free(p);
}

static void test_missing_device(void)
{
	_cleanup_free_ char *problems = plan_of("[device.gpu]\naddress = 0000:7f:00.0\n", NULL, NULL);

	CHECK_STR(problems, "VM win10: 0000:7f:00.0 (gpu): no such PCI device");
}

static void test_hostdev_xml(void)
{
	static const char xml[] = "<domain><devices><hostdev mode='subsystem' type='pci'><source>"
				  "<address domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></source>"
				  "</hostdev></devices></domain>";
	struct plan *p;
	_cleanup_free_ char *problems = plan_of("[vm]\ndevices-from-xml = yes\n", xml, &p);
	_cleanup_free_ char *no_xml = plan_of("[vm]\ndevices-from-xml = yes\n", NULL, NULL);
	_cleanup_free_ char *bad_xml = plan_of("[vm]\ndevices-from-xml = yes\n", "<oops", NULL);

	CHECK(problems == NULL);
	CHECK_INT(p->n_devices, 1);
	CHECK_STR(p->devices[0].address, NVME_B);
	CHECK_STR(p->devices[0].name, "hostdev");
	plan_free(p);
	CHECK_STR(no_xml, "VM win10: devices-from-xml is set but no domain XML was given");
	CHECK_STR(bad_xml, "VM win10: the domain XML does not parse as a <domain>");
}

static void test_in_use(void)
{
	_cleanup_free_ char *problems = NULL, *console = NULL, *released = NULL;

	fx_write(&f, "proc", "self/mountinfo", "40 21 259:1 / /data rw - ext4 /dev/nvme0n1p1 rw");
	problems = plan_of("[device.ssd]\naddress = 04:00.0\n", NULL, NULL);
	CHECK_STR(problems, "VM win10: " NVME_A " (ssd): in use by the host: nvme0n1p1 is mounted on /data");
	fx_write(&f, "proc", "self/mountinfo", "21 1 0:20 / / rw - overlay overlay rw");

	console = plan_of("[device.igpu]\naddress = 00:02.0\n", NULL, NULL);
	CHECK_STR(console, "VM win10: " IGPU " (igpu): it is the boot GPU and the framebuffer console (vtcon1) is "
			   "bound to it; set release-console = yes");
	released = plan_of("[vm]\nrelease-console = yes\n[device.igpu]\naddress = 00:02.0\n", NULL, NULL);
	CHECK(released == NULL);
}

static void test_iommu_off(void)
{
	struct fixture g;
	struct topology saved = t;
	_cleanup_free_ char *problems = NULL;

	fx_init(&g);
	fx_device(&g, GPU, 0x10de, 0x1e04, 0x030000, "nvidia", -1);
	t = (struct topology){ .sysfs_root = g.sys, .proc_root = g.proc };
	problems = plan_of("[device.gpu]\naddress = 0a:00.0\n", NULL, NULL);
	CHECK(problems && strstr(problems, "the IOMMU is off"));
	t = saved;
	fx_clear(&g);
}

static void test_json_round_trip(void)
{
	struct plan *p, *back = NULL;
	_cleanup_free_ char *problems =
		plan_of("[vm]\nunload-modules = nvidia_drm nvidia\nrelease-console = yes\n"
			"[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\nreset-method = device_specific\n",
			NULL, &p);
	json_object *j, *j2;

	CHECK(problems && strstr(problems, "this kernel has no reset_method attribute"));
	free(problems);
	plan_free(p);
	fx_write(&f, "sys", "bus/pci/devices/" GPU "/reset_method", "flr bus");
	problems = plan_of("[vm]\nunload-modules = nvidia_drm nvidia\nrelease-console = yes\n"
			   "[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\nreset-method = device_specific\n",
			   NULL, &p);
	CHECK_STR(problems, "VM win10: " GPU " (gpu): reset-method = device_specific, but the device does not offer "
			    "it (it offers: flr bus)");
	free(problems);
	plan_free(p);
	/* vendor-reset's udev rule put device_specific first: that is what release writes back. */
	fx_write(&f, "sys", "bus/pci/devices/" GPU "/reset_method", "device_specific flr bus");
	problems = plan_of("[vm]\nunload-modules = nvidia_drm nvidia\nrelease-console = yes\n"
			   "[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\nreset-method = device_specific\n",
			   NULL, &p);
	CHECK(problems == NULL);
	CHECK_STR(p->devices[0].reset_method_before, "device_specific flr bus");
	p->devices[1].step = DEVICE_ON_VFIO;
	p->devices[2].step = DEVICE_STUCK;
	p->modules[0].step = MODULE_UNLOADED;
	p->phase = PHASE_FAILED;
	p->error = strdup("VM win10: boom");
	strv_free(p->vtconsoles);
	p->vtconsoles = calloc(2, sizeof(char *));
	p->vtconsoles[0] = strdup("vtcon1");
	j = plan_to_json(p);
	CHECK_INT(plan_from_json(j, &back), 0);
	j2 = plan_to_json(back);
	CHECK_STR(json_object_to_json_string(j2), json_object_to_json_string(j));
	CHECK_STR(back->devices[0].reset_method, "device_specific");
	CHECK_STR(back->devices[0].reset_method_before, "device_specific flr bus");
	CHECK_INT(back->devices[2].step, DEVICE_STUCK);
	CHECK_STR(back->modules[1].name, "nvidia");
	CHECK_STR(back->vtconsoles[0], "vtcon1");
	json_object_put(j);
	json_object_put(j2);
	plan_free(p);
	plan_free(back);

	/* Damaged journals are refused, not half-read. */
	j = json_tokener_parse("{\"vm\":\"x\",\"phase\":\"bogus\",\"devices\":[],\"modules\":[]}");
	CHECK_INT(plan_from_json(j, &back), -EINVAL);
	json_object_put(j);
	j = json_tokener_parse("{\"vm\":\"x\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"a\",\"address\":\"x\"}],"
			       "\"modules\":[]}");
	CHECK_INT(plan_from_json(j, &back), -EINVAL);
	json_object_put(j);
}

/* A module graph by hand: the nvidia stack. */
static struct module_info mod(const char *name, enum module_state s, int refcnt, const char *h1, const char *h2)
{
	struct module_info m = { .name = strdup(name), .state = s, .refcnt = refcnt };

	m.holders = calloc(3, sizeof(char *));
	if (h1)
		m.holders[0] = strdup(h1);
	if (h2)
		m.holders[1] = strdup(h2);
	return m;
}

static char *order_of(struct module_info *mods, size_t n, int want_r)
{
	size_t order[8], n_order;
	struct diag d = { 0 };
	char *out = NULL;
	size_t len = 0;
	FILE *s;

	CHECK_INT(modules_unload_order("win10", mods, n, order, &n_order, &d), want_r);
	s = open_memstream(&out, &len);
	if (want_r == 0)
		for (size_t i = 0; i < n_order; i++)
			fprintf(s, "%s%s", i ? " " : "", mods[order[i]].name);
	else {
		_cleanup_free_ char *all = diag_join(&d, "\n");

		fputs(all, s);
	}
	fclose(s);
	diag_clear(&d);
	for (size_t i = 0; i < n; i++)
		module_info_clear(&mods[i]);
	return out;
}

static void test_module_order(void)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
	/* Listed in the wrong order: nvidia first. refcnt counts one per holder. */
	struct module_info nv[] = {
		mod("nvidia", MODULE_LIVE, 2, "nvidia_modeset", "nvidia_uvm"),
		mod("nvidia_uvm", MODULE_LIVE, 0, NULL, NULL),
		mod("nvidia_modeset", MODULE_LIVE, 1, "nvidia_drm", NULL),
		mod("nvidia_drm", MODULE_LIVE, 0, NULL, NULL),
	};
	struct module_info outside[] = {
		mod("nvidia_modeset", MODULE_LIVE, 1, "nvidia_drm", NULL),
		mod("nvidia", MODULE_LIVE, 1, "nvidia_modeset", NULL),
	};
	struct module_info busy[] = {
		mod("nvidia_drm", MODULE_LIVE, 3, NULL, NULL),
		mod("nvidia", MODULE_LIVE, 1, "nvidia_drm", NULL),
	};
	struct module_info skipped[] = {
		mod("vfio", MODULE_BUILTIN, 0, NULL, NULL),
		mod("nouveau", MODULE_ABSENT, 0, NULL, NULL),
		mod("snd_hda_intel", MODULE_LIVE, 0, NULL, NULL),
	};
	struct module_info cycle[] = {
		mod("a", MODULE_LIVE, 1, "b", NULL),
		mod("b", MODULE_LIVE, 1, "a", NULL),
	};

	a = order_of(nv, 4, 0);
	CHECK_STR(a, "nvidia_uvm nvidia_drm nvidia_modeset nvidia");
	b = order_of(outside, 2, -EBUSY);
	CHECK_STR(b, "VM win10: module nvidia_modeset: it is held by nvidia_drm, which is not in unload-modules");
	c = order_of(busy, 2, -EBUSY);
	CHECK_STR(c, "VM win10: module nvidia_drm: it is in use (3 references besides its holders)");
	d = order_of(skipped, 3, 0);
	CHECK_STR(d, "snd_hda_intel");
	e = order_of(cycle, 2, -EBUSY);
	CHECK_STR(e, "VM win10: unload-modules: the modules hold each other in a cycle");
}

int main(void)
{
	fx_machine(&f);
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	RUN(test_address_and_group);
	RUN(test_not_viable);
	RUN(test_match);
	RUN(test_missing_device);
	RUN(test_hostdev_xml);
	RUN(test_in_use);
	RUN(test_iommu_off);
	RUN(test_json_round_trip);
	RUN(test_module_order);
	fx_clear(&f);
	return 0;
}
