# lib.sh holds what the benchmark scripts share; source it, don't run it.

# server_addr LOGFILE waits up to 10 s for topicd's "serving" log line in LOGFILE and prints the
# address it bound (topicd is started with --listen 127.0.0.1:0, so the port is only known from
# the log). It prints the log and returns 1 when no address appears.
server_addr() {
	local log=$1 addr=
	for _ in $(seq 200); do
		addr=$(grep -m1 -o '"addr":"[^"]*"' "$log" 2>/dev/null | cut -d'"' -f4 || true)
		[[ -n $addr ]] && { echo "$addr"; return 0; }
		sleep 0.05
	done
	echo "topicd did not start:" >&2
	cat "$log" >&2
	return 1
}
