#!/usr/bin/env bash
# Install the Debian packages kafkalat needs to build and test. Idempotent and
# quiet when everything is present; called by the make targets.
set -euo pipefail

# prometheus: for its promtool, which checks the --format prom output;
# chromium: headless, renders the --format html page in test_report_html.py
pkgs=(make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
	librdkafka-dev libcmocka-dev libclang-rt-14-dev kcat python3 python3-kafka
	iproute2 procps xfsprogs e2fsprogs util-linux mount coreutils tshark
	prometheus chromium)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark's install asks whether non-root users may capture; the tests capture
# as root, so the answer is no, given before apt-get asks.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	debconf-set-selections
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/kafkalat-deps.log 2>&1; then
	apt-get update -q >>/tmp/kafkalat-deps.log 2>&1 || true
	apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/kafkalat-deps.log 2>&1 || {
		echo "deps.sh: apt-get install failed, see /tmp/kafkalat-deps.log" >&2
		tail -5 /tmp/kafkalat-deps.log >&2
		exit 1
	}
fi
