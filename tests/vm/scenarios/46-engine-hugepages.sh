#!/bin/bash
# testbed-timeout: 900
# Real 2 MiB hugepages on the guest's kernel through the engine (engine-tool, no daemon): the host's own
# boot-time pages are never touched; a VM's pages are reserved on prepare and exactly those returned on
# release; two VMs overlap with ledgers of their own; a reservation that cannot be met is refused in one line
# and given back whole; kill -9 at each step of prepare and release, then recovery, leaves the pool exactly
# as the host had it.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"
require_fault_injection

POOL=/sys/devices/system/node/node0/hugepages/hugepages-2048kB
TARGET=node0/hugepages-2048kB
[[ -e $POOL/nr_hugepages ]] || skip "the guest kernel has no 2 MiB pool on node 0"
HOST_PAGES=16

# pool_is N: nr_hugepages (and no surplus) is N.
pool_is() {
	local nr surplus
	read -r nr <"$POOL/nr_hugepages"
	read -r surplus <"$POOL/surplus_hugepages"
	[[ $nr == "$1" && $surplus == 0 ]] || fail "the 2 MiB pool holds $nr pages ($surplus surplus), expected $1"
	echo "ok: the pool holds $1 pages"
}

step "the host's own pages: $HOST_PAGES reserved before hookd, as hugepages= at boot would"
printf '%s' "$HOST_PAGES" >"$POOL/nr_hugepages"
pool_is "$HOST_PAGES"

vm_config hp1 <<INI
[vm]
hugepages = 64
hugepage-size = 2M
[device.ssd]
address = $NVME
INI
vm_config hp2 <<INI
[vm]
hugepages = 32
INI

step "check shows the plan: 64 pages on node 0 for hp1, nothing changed"
engine_ok check hp1
grep -q "\"target\": *\"node0\\\\*/hugepages-2048kB\"" "$ENGINE_OUT" || fail "check does not plan node0/hugepages-2048kB"
pool_is "$HOST_PAGES"

step "prepare hp1: the pool grows by 64, the NVMe moves"
engine_ok prepare hp1
pool_is $((HOST_PAGES + 64))
assert_on_vfio "$NVME"

step "prepare hp2 (hugepages only) while hp1 holds its pages: 32 more"
engine_ok prepare hp2
pool_is $((HOST_PAGES + 96))

step "release hp1 first: its 64 go, hp2's 32 and the host's $HOST_PAGES stay"
engine_ok release hp1
pool_is $((HOST_PAGES + 32))
assert_on_host "$NVME" nvme
assert_journal_gone hp1
engine_ok release hp2
pool_is "$HOST_PAGES"
assert_journal_gone hp2

step "a reservation the guest's 2 GiB cannot hold: refused in one line, nothing kept, the NVMe stays home"
vm_config huge <<INI
[vm]
hugepages = 100000
[device.ssd]
address = $NVME
INI
if engine prepare huge; then
	fail "prepare of 100000 pages succeeded"
fi
grep -Eq "hugepages: only [0-9]+ of 100000 pages of 2 MiB could be reserved on node 0" "$ENGINE_OUT" ||
	fail "the refusal does not say how many pages were obtained: $(cat "$ENGINE_OUT")"
pool_is "$HOST_PAGES"
assert_on_host "$NVME" nvme
engine_ok release huge
assert_journal_gone huge

# crashed STEP CMD VM: engine-tool must die of SIGKILL at STEP.
crashed() {
	local rc=0
	HOOKD_FAULT="crash-at:$1" "$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" "$2" "$3" \
		>"$ENGINE_OUT" 2>&1 || rc=$?
	[[ $rc == 137 ]] || fail "$2 with crash-at:$1 exited $rc, expected to be killed (137): $(cat "$ENGINE_OUT")"
	echo "ok: killed at $1 during $2"
}

for s in "${HP_PREPARE_STEPS[@]}"; do
	step "kill -9 during prepare at $s, then recover and release"
	crashed "$s" prepare hp1
	engine_ok recover
	engine_ok release hp1
	pool_is "$HOST_PAGES"
	assert_on_host "$NVME" nvme
	assert_journal_gone hp1
done
for s in "${HP_RELEASE_STEPS[@]}"; do
	step "kill -9 during release at $s, then recover and release"
	engine_ok prepare hp1
	crashed "$s" release hp1
	engine_ok recover
	engine_ok release hp1
	pool_is "$HOST_PAGES"
	assert_on_host "$NVME" nvme
	assert_journal_gone hp1
done

printf 0 >"$POOL/nr_hugepages"
