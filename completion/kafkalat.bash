# bash completion for kafkalat                                 -*- shell-script -*-
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installed as share/bash-completion/completions/kafkalat. Works with or
# without the bash-completion package (it uses none of its helpers).

# Completes the word being typed from a list of words (none has a space).
_kafkalat_words()
{
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# Completes file names (and directories on the way to them).
_kafkalat_files()
{
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

# The pids of processes listening on a TCP port, then of java processes.
_kafkalat_pids()
{
	local pids
	pids=$(ss -Htlnp 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un)
	_kafkalat_words "$pids" "$1"
}

# TCP ports being listened on.
_kafkalat_ports()
{
	local ports
	ports=$(ss -Htln 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -un)
	_kafkalat_words "9092"$'\n'"$ports" "$1"
}

_kafkalat()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# kafkalat dispatches on its first argument only
	local cmd="" i
	if ((COMP_CWORD > 1)); then
		case ${COMP_WORDS[1]} in
		record | report | compare | load | replay) cmd=${COMP_WORDS[1]} ;;
		esac
	fi

	# after `record ... --` the words are a command line of their own
	if [[ $cmd == record ]]; then
		for ((i = 2; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -- ]] || continue
			if declare -F _command_offset >/dev/null; then
				_command_offset $((i + 1)) # bash-completion's helper
			elif ((i + 1 == COMP_CWORD)); then
				mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
			else
				_kafkalat_files "$cur"
			fi
			return 0
		done
	fi

	case $cmd in
	"") _kafkalat_live "$cur" "$prev" ;;
	record) _kafkalat_record "$cur" "$prev" ;;
	report) _kafkalat_report "$cur" "$prev" ;;
	compare) _kafkalat_compare "$cur" "$prev" ;;
	load) _kafkalat_load "$cur" "$prev" ;;
	replay) _kafkalat_replay "$cur" "$prev" ;;
	esac
	return 0
}

_kafkalat_live()
{
	local cur=$1 prev=$2
	case $prev in
	-p | --pid) _kafkalat_pids "$cur"; return ;;
	-P | --port) _kafkalat_ports "$cur"; return ;;
	--requests | --folded | --dump-events) _kafkalat_files "$cur"; return ;;
	--nice) _kafkalat_words "$(seq -20 19)" "$cur"; return ;;
	--ringbuf-mb) _kafkalat_words "1 2 4 8 16 32 64 128 256" "$cur"; return ;;
	-d | --duration | --slower) return ;;
	esac
	if [[ $cur == -* ]]; then
		_kafkalat_words "-p --pid -P --port -d --duration --slower -j --json --requests
--folded --dump-events --no-causes --nice --bpf-stats --ringbuf-mb --follow -v --verbose -h --help
-V --version" "$cur"
	elif ((COMP_CWORD == 1)); then
		_kafkalat_words "record report compare load replay" "$cur"
	fi
}

_kafkalat_record()
{
	local cur=$1 prev=$2
	case $prev in
	-p | --pid) _kafkalat_pids "$cur"; return ;;
	-P | --port) _kafkalat_ports "$cur"; return ;;
	-o) _kafkalat_files "$cur"; return ;;
	--nice) _kafkalat_words "$(seq -20 19)" "$cur"; return ;;
	-d | --duration | -I | --label | --slowest) return ;;
	esac
	_kafkalat_words "-p --pid -P --port -o -d --duration -I --label --slowest --no-causes
--nice --follow -h --help --" "$cur"
}

_kafkalat_report()
{
	local cur=$1 prev=$2
	case $prev in
	--format) _kafkalat_words "text json html prom hgrm md" "$cur"; return ;;
	-o | --baseline) _kafkalat_files "$cur"; return ;;
	esac
	if [[ $cur == -* ]]; then
		_kafkalat_words "--format -o --baseline -h --help" "$cur"
	else
		_kafkalat_files "$cur"
	fi
}

_kafkalat_compare()
{
	local cur=$1 prev=$2
	case $prev in
	--format) _kafkalat_words "text md json" "$cur"; return ;;
	--gate) _kafkalat_words "p50=+ p90=+ p99=+ p99.9=+" "$cur"; compopt -o nospace 2>/dev/null; return ;;
	--floor-us | --seed) return ;;
	esac
	if [[ $cur == -* ]]; then
		_kafkalat_words "-j --format --gate --floor-us --seed -h --help --" "$cur"
	else
		_kafkalat_files "$cur"
	fi
}

_kafkalat_load()
{
	local cur=$1 prev=$2
	case $prev in
	--acks) _kafkalat_words "0 1 all" "$cur"; return ;;
	--messages) _kafkalat_files "$cur"; return ;;
	--profile) _kafkalat_words "librdkafka java" "$cur"; return ;;
	--consumer-mode) _kafkalat_words "assign group" "$cur"; return ;;
	-b | --bootstrap) _kafkalat_words "127.0.0.1:9092 localhost:9092" "$cur"; return ;;
	-t | --topic | --partitions | --rate | --size | -d | --duration | --count | --producers | \
		--consumers | --fetch-wait-ms | --consume-timeout | -X) return ;;
	esac
	_kafkalat_words "-b --bootstrap -t --topic --partitions --rate --size --acks --profile -d
--duration --count --producers --consumers --consumer-mode --fetch-wait-ms --consume-timeout -X
--json --messages -q --quiet -h --help" "$cur"
}

_kafkalat_replay()
{
	local cur=$1 prev=$2
	case $prev in
	--requests | --folded) _kafkalat_files "$cur"; return ;;
	--slower) return ;;
	esac
	if [[ $cur == -* ]]; then
		_kafkalat_words "-j --json --slower --requests --folded -h --help" "$cur"
	else
		_kafkalat_files "$cur"
	fi
}

complete -F _kafkalat kafkalat
