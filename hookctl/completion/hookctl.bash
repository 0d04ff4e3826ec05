# bash completion for hookctl(1)

_hookctl_vms()
{
	local dir=${HOOKD_CONF_DIR:-/etc/hookd} i
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == --conf-dir ]] && dir=${COMP_WORDS[i + 1]}
	done
	local f names=()
	for f in "$dir"/vms/*.ini; do
		[[ -e $f ]] && f=${f##*/} && names+=("${f%.ini}")
	done
	printf '%s\n' "${names[@]}"
}

_hookctl()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local commands="status iommu check edit cat get set unset init import prepare release reload help"
	local globals="--conf-dir --socket --sysfs-root --connect --no-color --help --version"

	case $prev in
	--conf-dir | --sysfs-root)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--socket | --xml)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--connect)
		COMPREPLY=($(compgen -W "qemu:///system qemu:///session" -- "$cur"))
		return
		;;
	--vm)
		COMPREPLY=($(compgen -W "$(_hookctl_vms)" -- "$cur"))
		return
		;;
	esac

	local i cmd="" nargs=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--conf-dir | --socket | --sysfs-root | --connect | --vm | --xml) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=${words[i]}; else ((nargs++)); fi ;;
		esac
	done

	if [[ $cur == -* ]]; then
		local opts=$globals
		case $cmd in
		status) opts+=" --json" ;;
		check) opts+=" --json --xml" ;;
		iommu) opts+=" --json --vm" ;;
		init) opts+=" --force --xml --stdout" ;;
		import) opts+=" --force --stdout" ;;
		esac
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		return
	fi
	case $cmd in
	status | check | edit | cat | prepare | release | get | set | unset)
		if ((nargs == 0)); then
			COMPREPLY=($(compgen -W "$(_hookctl_vms)" -- "$cur"))
		elif ((nargs == 1)) && [[ $cmd == get || $cmd == set || $cmd == unset ]]; then
			COMPREPLY=($(compgen -W "vm.unload-modules vm.release-console vm.devices-from-xml
				vm.whole-group vm.vm-cpus vm.hugepages vm.hugepage-size device." -- "$cur"))
			compopt -o nospace 2>/dev/null
		fi
		;;
	init)
		((nargs == 0)) && COMPREPLY=($(compgen -W "$(virsh -r list --all --name 2>/dev/null)" -- "$cur"))
		;;
	import)
		if ((nargs == 0)); then
			COMPREPLY=($(compgen -f -- "$cur"))
		elif ((nargs == 1)); then
			COMPREPLY=($(compgen -W "$(_hookctl_vms)" -- "$cur"))
		fi
		;;
	help)
		((nargs == 0)) && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		;;
	esac
}
complete -F _hookctl hookctl
