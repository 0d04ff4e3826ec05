/* The VM's host CPUs (vmcpus.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "domxml.h"
#include "util.h"
#include "vmcpus.h"

int vm_cpus_normalize(const char *value, char **ret, const char **ret_why)
{
	struct cpuset s;
	int r;

	if (streq(value, VM_CPUS_AUTO)) {
		*ret = strdup(VM_CPUS_AUTO);
		return *ret ? 0 : -ENOMEM;
	}
	r = cpuset_parse_list(value, 0, &s, ret_why);
	if (r < 0)
		return -EINVAL;
	if (cpuset_is_empty(&s)) {
		*ret_why = "no CPU given";
		return -EINVAL;
	}
	return cpuset_format_list(&s, ret);
}

int vm_cpus_resolve(const char *setting, const char *xml, size_t len, struct cpuset *ret, char **ret_why)
{
	const char *why = NULL;
	int r;

	*ret_why = NULL;
	if (setting && !streq(setting, VM_CPUS_AUTO)) {
		r = cpuset_parse_list(setting, 0, ret, &why);
		if (r < 0 && asprintf(ret_why, "vm-cpus '%s': %s", setting, why) < 0)
			*ret_why = NULL;
		return r < 0 ? -EINVAL : 0;
	}
	if (!xml) {
		*ret_why = strdup("vm-cpus = auto needs the domain XML (<cputune>), and there is none here");
		return -ENOENT;
	}
	return domxml_pinned_cpus(xml, len, ret, ret_why);
}

int vm_cpus_check_online(const struct cpuset *vm_cpus, const struct cpuset *online, char **ret_why)
{
	_cleanup_free_ char *missing_text = NULL, *online_text = NULL;
	struct cpuset missing = *vm_cpus;

	*ret_why = NULL;
	cpuset_difference(&missing, online);
	if (cpuset_is_empty(&missing))
		return 0;
	if (cpuset_format_list(&missing, &missing_text) < 0 || cpuset_format_list(online, &online_text) < 0 ||
	    asprintf(ret_why, "vm-cpus names CPUs %s, which are not online (online: %s)", missing_text, online_text) <
		    0) {
		*ret_why = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}
