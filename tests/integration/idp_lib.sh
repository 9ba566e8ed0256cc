# idp_lib.sh: what the tests against the real oidc-provider share
# (idp_oidc.sh, idp_introspect.sh). Sourced after lib.sh; the caller sets
# APP and TOK (the route every call goes to) and GW_PORT before calling.

node_package oidc-provider

# A test CA and the provider's certificate for 127.0.0.1 ($T/ca.pem,
# $T/idp.pem, $T/idp.key).
(cd "$T" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	    -out ca.pem -days 2 -subj /CN=scopegate-test-ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idp.key \
	    -out idp.csr -subj /CN=127.0.0.1 &&
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > idp.ext &&
	openssl x509 -req -in idp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out idp.pem \
	    -days 2 -extfile idp.ext) > "$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; exit 1; }

# The provider's port, its control port (idp_provider.js), its issuer.
P_PORT=$(free_port)
C_PORT=$(free_port)
ISS="https://127.0.0.1:$P_PORT"
CTL="http://127.0.0.1:$C_PORT"

# control PATH BODY: a call to the provider's control port.
control() { curl -s --data-binary "$2" "$CTL/$1"; }

# call [TOKEN]: GET of the route through the gateway; prints the status.
call() {
	curl -s -o "$T/r.json" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} \
	    "http://127.0.0.1:$GW_PORT/applications/$APP/tokens/$TOK"
}

# expect_call "desc" STATUS TOKEN: the status, and whether it reached the upstream.
expect_call() {
	local n0 want_n
	n0=$(record_count)
	expect_eq "$1: status" "$2" "$(call "$3")"
	want_n=$n0
	[ "$2" = 200 ] && want_n=$((n0 + 1))
	expect_eq "$1: $([ "$2" = 200 ] && echo reached || echo 'nothing reached') the upstream" \
	    "$want_n" "$(record_count)"
}

# eventually SECONDS STATUS TOKEN: poll until the call answers STATUS.
eventually() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		[ "$(call "$3")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# metric NAME: the values of the gateway's /metrics samples naming NAME.
metric() {
	curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -v '^#' | grep -F "$1" | awk '{print $2}'
}

# latency SECONDS TOKEN: GETs of the route one after another for SECONDS;
# prints "count ok p99_s max_s" (the requests answered 200 among them).
latency() {
	python3 - "http://127.0.0.1:$GW_PORT/applications/$APP/tokens/$TOK" "$2" "$1" <<'PY'
import sys, time, urllib.request
url, tok, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
lat, ok = [], 0
end = time.time() + secs
while time.time() < end:
    t = time.time()
    r = urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer " + tok}))
    ok += r.status == 200
    r.read()
    lat.append(time.time() - t)
lat.sort()
print(len(lat), ok, "%.4f" % lat[max(int(len(lat) * 0.99) - 1, 0)], "%.4f" % lat[-1])
PY
}
