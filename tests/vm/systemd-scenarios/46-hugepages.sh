#!/bin/bash
# hugepages = auto through the installed package (issue 13): a domain whose XML asks for
# <memoryBacking><hugepages/> (128 MiB: 64 pages of 2 MiB) gets its pages reserved by hookd at virsh start,
# on top of the host's own boot-time pages; QEMU runs on them (its RAM is a file on hugetlbfs, the pool's
# free pages drop by 64); hookctl status shows the change and its ledger; virsh destroy gives back exactly
# this VM's 64 and the host's own pages stay.
# testbed-timeout: 300
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

POOL=/sys/devices/system/node/node0/hugepages/hugepages-2048kB
[[ -e $POOL/nr_hugepages ]] || fail "the guest kernel has no 2 MiB pool on node 0"
HOST_PAGES=8

# pool NR FREE: the pool holds NR pages, FREE of them free, none surplus.
pool() {
	local nr free surplus
	read -r nr <"$POOL/nr_hugepages"
	read -r free <"$POOL/free_hugepages"
	read -r surplus <"$POOL/surplus_hugepages"
	[[ $nr == "$1" && $free == "$2" && $surplus == 0 ]] ||
		fail "the 2 MiB pool holds $nr pages ($free free, $surplus surplus), expected $1 ($2 free)"
	echo "ok: the 2 MiB pool holds $1 pages, $2 free"
}

step "the host's own pages: $HOST_PAGES, as hugepages= at boot would reserve them; hugetlbfs mounted"
findmnt -t hugetlbfs | tee /tmp/hugetlbfs.txt
grep -q hugetlbfs /tmp/hugetlbfs.txt || fail "no hugetlbfs mounted (systemd's dev-hugepages.mount)"
printf '%s' "$HOST_PAGES" >"$POOL/nr_hugepages"
pool "$HOST_PAGES" "$HOST_PAGES"

step "hugevm: hugepages = auto, its XML backs its 128 MiB with hugepages"
vm_ini hugevm <<INI
[vm]
hugepages = auto
INI
DOMAIN_XML_EXTRA="<memoryBacking><hugepages/></memoryBacking>" define_domain hugevm 5a1f0c3e-0000-4000-8000-00000000d001
grep -q '<memoryBacking><hugepages/></memoryBacking>' /tmp/hugevm.xml || fail "the domain XML has no <memoryBacking>"
hookctl check hugevm | tee /tmp/check.txt || fail "hookctl check hugevm refused"
grep -q 'node0/hugepages-2048kB' /tmp/check.txt || fail "hookctl check does not plan node0/hugepages-2048kB"
grep -qw '64' /tmp/check.txt || fail "hookctl check does not plan 64 pages"
pool "$HOST_PAGES" "$HOST_PAGES"

step "virsh start hugevm: 64 pages reserved before QEMU starts, QEMU's RAM on them"
t0=${EPOCHREALTIME//[.,]/}
vsh 240 start hugevm
echo "virsh start took $(((${EPOCHREALTIME//[.,]/} - t0) / 1000)) ms"
pid=$(qemu_pid hugevm)
grep -c hugepages "/proc/$pid/maps" | sed 's/^/QEMU mappings on hugetlbfs: /'
grep -q '/dev/hugepages' "/proc/$pid/maps" || fail "QEMU (pid $pid) maps nothing from /dev/hugepages"
pool $((HOST_PAGES + 64)) "$HOST_PAGES"

step "hookctl status shows the reservation and its ledger"
hookctl status | tee /tmp/status.txt
grep -q 'hugevm' /tmp/status.txt || fail "hookctl status does not show hugevm"
grep -q 'node0/hugepages-2048kB' /tmp/status.txt || fail "hookctl status does not show the hugepages change"

step "virsh destroy hugevm: exactly its 64 pages go back, the host's $HOST_PAGES stay"
vsh 120 destroy hugevm
pool "$HOST_PAGES" "$HOST_PAGES"
hookctl status hugevm 2>&1 | tee /tmp/status-after.txt || true

vsh 60 undefine hugevm
rm -f /etc/hookd/vms/hugevm.ini
printf 0 >"$POOL/nr_hugepages"
