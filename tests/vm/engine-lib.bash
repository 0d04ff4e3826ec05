# shellcheck shell=bash
# Helpers for the engine's scenarios (tests/vm/scenarios/2*-*.sh): drive the engine through
# tests/vm/engine-tool (no daemon), with a per-scenario config and run directory. Runs INSIDE the guest.

ENGINE_TOOL="${HOOKD_BUILD:-}/tests/vm/engine-tool"
ENGINE_CONF=/tmp/engine-conf
ENGINE_RUN=/tmp/engine-run
require_bin "$ENGINE_TOOL"
mkdir -p "$ENGINE_CONF/vms" "$ENGINE_RUN"

# vm_config NAME < INI: write the VM's configuration.
vm_config() {
	cat >"$ENGINE_CONF/vms/$1.ini"
	echo "config $1:"
	sed 's/^/  | /' "$ENGINE_CONF/vms/$1.ini"
}

# engine CMD [VM]: run engine-tool; stdout/stderr go to $ENGINE_OUT as well as the log.
ENGINE_OUT=/tmp/engine-out
engine() {
	local rc=0
	echo "engine-tool $*"
	"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" "$@" >"$ENGINE_OUT" 2>&1 || rc=$?
	sed 's/^/  > /' "$ENGINE_OUT"
	return $rc
}

# engine_ok CMD [VM]: must succeed.
engine_ok() {
	engine "$@" || fail "engine-tool $* failed: $(tail -n 3 "$ENGINE_OUT")"
}

# engine_refused PATTERN CMD [VM]: must fail, and its message must match the extended regex PATTERN.
engine_refused() {
	local pattern=$1
	shift
	if engine "$@"; then
		fail "engine-tool $* succeeded, expected a refusal matching /$pattern/"
	fi
	grep -Eq -- "$pattern" "$ENGINE_OUT" || fail "engine-tool $*: message does not match /$pattern/"
	echo "ok: refused: $(tail -n 1 "$ENGINE_OUT")"
}

# assert_journal_gone VM
assert_journal_gone() {
	[[ ! -e "$ENGINE_RUN/state/$1.state" ]] || fail "journal of $1 still exists: $(cat "$ENGINE_RUN/state/$1.state")"
	echo "ok: no journal for $1"
}

# assert_on_host BDF DRIVER: original driver, no driver_override.
assert_on_host() {
	assert_driver "$1" "$2"
	assert_override "$1" ""
}

# assert_on_vfio BDF: vfio-pci, override set, /dev/vfio/GROUP present.
assert_on_vfio() {
	assert_driver "$1" vfio-pci
	assert_override "$1" vfio-pci
	assert_vfio_dev "$(group_of "$1")" present
}

# assert_status VM STATE: the VM's state in engine-tool status.
assert_status() {
	engine_ok status "$1" >/dev/null
	grep -Eq "\"state\": *\"$2\"" "$ENGINE_OUT" || fail "status of $1 is not $2: $(tr -d ' \n' <"$ENGINE_OUT")"
	echo "ok: status $1 $2"
}

# A failing scenario still gives the devices back, so the next one starts clean.
_engine_cleanup() {
	local f
	for f in "$ENGINE_RUN"/state/*.state; do
		[[ -e "$f" ]] || continue
		"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" release "$(basename "$f" .state)" || true
	done
}
trap _engine_cleanup EXIT

# require_fault_injection: the build must have -Dfault-injection=true (CI's test builds do).
require_fault_injection() {
	local v
	v=$(jq -r '.[] | select(.name == "fault-injection") | .value' "$HOOKD_BUILD/meson-info/intro-buildoptions.json" 2>/dev/null)
	[[ "$v" == true ]] || skip "this build has fault-injection=false (meson configure -Dfault-injection=true)"
}
