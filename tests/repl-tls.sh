#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-tls.sh: NBD over TLS.  The primary's libvirtd has
# backup_tls_x509_cert_dir (a CA, a server certificate for 127.0.0.1, client
# certificates verified) made with certtool; drover.conf's replication group
# names the client's certificate directory (nbd_tls): the backup job's
# export is TLS only (tls='yes'), the initial copy and a cycle read as the
# primary; a client certificate of another CA, or a directory without
# certificates, fails the initial copy, decoded, leaving nothing behind.
. "${top_srcdir:-.}/tests/lib.sh"
command -v certtool >/dev/null 2>&1 || skip_all "certtool not found (Debian: gnutls-bin)"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

# cert DIR NAME CA_DIR TEMPLATE: a key and a certificate signed by CA_DIR's CA.
cert() {
    certtool --generate-privkey --outfile "$1/$2-key.pem" >/dev/null 2>&1 &&
        printf '%s\n' "$4" >"$1/$2.info" &&
        certtool --generate-certificate --load-privkey "$1/$2-key.pem" \
            --load-ca-certificate "$3/ca-cert.pem" --load-ca-privkey "$3/ca-key.pem" \
            --template "$1/$2.info" --outfile "$1/$2-cert.pem" >/dev/null 2>&1
}
ca() {  # ca DIR: a CA of its own in DIR
    mkdir -p "$1" &&
        certtool --generate-privkey --outfile "$1/ca-key.pem" >/dev/null 2>&1 &&
        printf 'cn = drover test CA %s\nca\ncert_signing_key\nexpiration_days = 2\n' "$1" >"$1/ca.info" &&
        certtool --generate-self-signed --load-privkey "$1/ca-key.pem" --template "$1/ca.info" \
            --outfile "$1/ca-cert.pem" >/dev/null 2>&1
}
repl_setup() {
    PKI=$TOP/pki
    ca "$PKI/ca" && ca "$PKI/otherca" &&
        mkdir -p "$PKI/server" "$PKI/client" "$PKI/other" "$PKI/empty" &&
        cert "$PKI/server" server "$PKI/ca" "organization = drover
cn = localhost
ip_address = 127.0.0.1
dns_name = localhost
tls_www_server
encryption_key
signing_key
expiration_days = 2" &&
        cert "$PKI/client" client "$PKI/ca" "cn = drover-dr
tls_www_client
encryption_key
signing_key
expiration_days = 2" &&
        cert "$PKI/other" client "$PKI/otherca" "cn = intruder
tls_www_client
encryption_key
signing_key
expiration_days = 2" &&
        cp "$PKI/ca/ca-cert.pem" "$PKI/server/" && cp "$PKI/ca/ca-cert.pem" "$PKI/client/" &&
        cp "$PKI/ca/ca-cert.pem" "$PKI/other/" && cp "$PKI/ca/ca-cert.pem" "$PKI/empty/" || return 1
    rm -f "$PKI"/*/*.info "$PKI/empty"/client-* 2>/dev/null
    QEMU_CONF_EXTRA="backup_tls_x509_cert_dir = \"$PKI/server\"
backup_tls_x509_verify = 1"
}
. "${top_srcdir:-.}/tests/repl-lib.sh"

base=$(cat "$T/drover.conf")
conf() {  # conf FILE CERTDIR: the test's configuration, nbd_tls CERTDIR for the primary
    printf '%s\nreplication = ( { primary = "%s"; nbd = "127.0.0.1:%s"; nbd_tls = "%s"; } );\n' \
        "$base" "$PURI" "$PORT" "$2" >"$T/$1"
}
conf tls.conf "$PKI/client"
conf other.conf "$PKI/other"
conf empty.conf "$PKI/empty"
drt() { _c=$1; shift; "$DROVER" --config "$T/$_c" -c "$DURI" "$@"; }

out=$(drt tls.conf enable-replication "$VM" --from "$PURI" --dir "$DIR" --dry-run 2>&1)
is "$?" 0 "dry run: exit 0"
like "$out" "NBD export at 127\.0\.0\.1:$PORT over TLS \(client certificates in $PKI/client\)" \
    "the plan says the export is read over TLS, with which certificates"
out=$(drt tls.conf enable-replication "$VM" --from "$PURI" --dir "$DIR" --dry-run --json 2>/dev/null)
is "$(json_get "$out" 'd["plan"]["nbd_tls"]')" "$PKI/client" "--json: the plan's nbd_tls"

# A client certificate of another CA: the primary refuses it.
out=$(drt other.conf enable-replication "$VM" --from "$PURI" --dir "$DIR" --yes 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "a client certificate of another CA: non-zero exit ($rc)"
like "$out" "32777" "decoded as 32777 (the export cannot be reached)"
like "$out" "over TLS \(client certificates in $PKI/other\)" "the cause names TLS and the certificates"
is "$(record "v['state'], v['interrupted_operation'], len(v['recovery_points'])")" "2 None 0" \
    "the replica waits in state 2, no journal, no point"
is "$(files)" "" "no layer and no temporary file left"
is "$(pvirsh domjobinfo "$VM" 2>/dev/null | awk '/Job type/ {print $3}')" "None" \
    "no backup job left on the primary"
dvirsh undefine "$VM" >/dev/null 2>&1

# A directory without client certificates: refused the same.
out=$(drt empty.conf enable-replication "$VM" --from "$PURI" --dir "$DIR" --yes 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "no client certificate: non-zero exit ($rc)"
like "$out" "over TLS \(client certificates in $PKI/empty\)" "the cause names TLS and the directory"
is "$(files)" "" "nothing left"
dvirsh undefine "$VM" >/dev/null 2>&1

out=$(drt tls.conf enable-replication "$VM" --from "$PURI" --dir "$DIR" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication over TLS: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$(dvirsh dumpxml --inactive "$VM")" "<drover:replication [^>]*tls=\"$PKI/client\"" \
    "the record keeps the certificate directory"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2"
ok $? "vda at rp-0001 reads as the primary"
paused same "$DIR/vdb.rp-0001.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0001 reads as the primary"

write "$DEV_A" 0x61 5M 128k && write "$DEV_B" 0x62 2M 64k
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "a cycle over TLS (the record's setting, any configuration): exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "over TLS \(client certificates in $PKI/client\)" "its plan says TLS"
paused same "$DIR/vda.rp-0002.qcow2" "$TOP/prim/vda.qcow2"
ok $? "vda at rp-0002 reads as the primary"
paused same "$DIR/vdb.rp-0002.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0002 reads as the primary"
is "$(system_jobs_of_this_test)" 0 "the system's job history holds no job of this test"

qemu_stop_all >/dev/null 2>&1
done_testing
