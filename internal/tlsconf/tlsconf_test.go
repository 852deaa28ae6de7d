package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/tlsconf/tlstest"
)

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    uint16
		wantErr string
	}{
		{"", tls.VersionTLS12, ""},
		{"TLSv1_2", tls.VersionTLS12, ""},
		{"TLSv1.2", tls.VersionTLS12, ""},
		{"PROTOCOL_TLSv1_2", tls.VersionTLS12, ""},
		{"5", tls.VersionTLS12, ""}, // ssl.PROTOCOL_TLSv1_2 as a number (ssl_version = 5)
		{"TLS", tls.VersionTLS12, ""},
		{"SSLv23", tls.VersionTLS12, ""},
		{"2", tls.VersionTLS12, ""}, // gunicorn's default, ssl.PROTOCOL_SSLv23
		{"TLS_SERVER", tls.VersionTLS12, ""},
		{"ssl.PROTOCOL_TLS_SERVER", tls.VersionTLS12, ""},
		{"17", tls.VersionTLS12, ""},
		{"TLSv1_3", tls.VersionTLS13, ""},
		{"tlsv1.3", tls.VersionTLS13, ""},
		{"TLSv1", 0, "RFC 8996"},
		{"TLSv1_1", 0, "RFC 8996"},
		{"3", 0, "RFC 8996"},
		{"SSLv3", 0, "SSL 2 and 3"},
		{"TLS_CLIENT", 0, "client-side"},
		{"TLSv9", 0, "want TLSv1_2"},
	} {
		got, err := ParseVersion(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseVersion(%q) error = %v; want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseVersion(%q) = %x, %v; want %x", c.in, got, err, c.want)
		}
	}
}

func TestParseCertReqs(t *testing.T) {
	for in, want := range map[string]tls.ClientAuthType{
		"": tls.NoClientCert, "0": tls.NoClientCert, "CERT_NONE": tls.NoClientCert,
		"1": tls.VerifyClientCertIfGiven, "ssl.CERT_OPTIONAL": tls.VerifyClientCertIfGiven,
		"2": tls.RequireAndVerifyClientCert, "cert_required": tls.RequireAndVerifyClientCert,
	} {
		if got, err := ParseCertReqs(in); err != nil || got != want {
			t.Errorf("ParseCertReqs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseCertReqs("3"); err == nil {
		t.Errorf("ParseCertReqs(3) succeeded; want an error")
	}
}

func names(ids []uint16) []string {
	var n []string
	for _, id := range ids {
		n = append(n, SuiteName(id))
	}
	return n
}

func TestParseCiphers(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []string // OpenSSL names; nil = Go's defaults
		wantErr string
	}{
		{"", nil, ""},
		{"ECDHE-RSA-AES128-GCM-SHA256", []string{"ECDHE-RSA-AES128-GCM-SHA256"}, ""},
		// IANA names, and separators ':' ',' ' '
		{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ECDHE-RSA-CHACHA20-POLY1305", []string{"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}, ""},
		// Mozilla's "intermediate" list: the DHE suites crypto/tls lacks select nothing.
		{"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256", nil, "unknown cipher"},
		{"ECDHE+AESGCM:!aNULL:!MD5", []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"}, ""},
		// The example of a gunicorn.conf.py seen in the wild.
		{"ECDHE:!aNULL:!eNULL:!LOW:!3DES:!MD5:!EXP:!PSK:!SRP:!DSS:!RC4:!SHA", []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"}, ""},
		{"HIGH:!kRSA:!SHA1:!aECDSA:@STRENGTH", []string{"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}, ""},
		// '!' is for good; '-' can be added back; '+' moves to the end.
		{"AESGCM+ECDHE+aRSA:!AES256:AES256", []string{"ECDHE-RSA-AES128-GCM-SHA256"}, ""},
		{"AESGCM+ECDHE+aRSA:-AES256:AES256+ECDHE+aRSA+AESGCM", []string{"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"}, ""},
		{"AESGCM+ECDHE+aRSA:+AES128", []string{"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"}, ""},
		// TLS 1.3 names are accepted (always on) but select no TLS 1.2 suite.
		{"TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256", []string{"ECDHE-RSA-AES128-GCM-SHA256"}, ""},
		{"TLS_AES_128_GCM_SHA256", nil, "TLS 1.3 suites cannot be chosen"},
		{"!ALL", nil, "selects none"},
		{"RC4-SHA", nil, "insecure"},
		{"ECDHE-RSA-AES128-SHA256", nil, "insecure"},
		{"FOO-BAR", nil, `unknown cipher or alias "FOO-BAR"`},
		{"ECDHE::AES", []string{"ECDHE-ECDSA-AES128-GCM-SHA256"}, ""}, // empty elements are skipped
	} {
		got, err := ParseCiphers(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseCiphers(%q) error = %v; want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCiphers(%q): %v", c.in, err)
			continue
		}
		if c.in == "ECDHE::AES" {
			if len(got) == 0 || names(got)[0] != c.want[0] {
				t.Errorf("ParseCiphers(%q) = %v", c.in, names(got))
			}
			continue
		}
		if !slices.Equal(names(got), c.want) {
			t.Errorf("ParseCiphers(%q) = %v; want %v", c.in, names(got), c.want)
		}
	}
}

func TestParseErrorsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		s    Settings
		want string
	}{
		{Settings{KeyFile: "k.pem"}, `invalid value "k.pem" for --keyfile: needs --certfile`},
		{Settings{CertFile: "c.pem", CertReqs: "2"}, `invalid value "2" for --cert-reqs: client certificates need --ca-certs`},
		{Settings{CertFile: "c.pem", CertReqs: "x"}, `invalid value "x" for --cert-reqs`},
		{Settings{CertFile: "c.pem", Version: "TLSv1"}, `invalid value "TLSv1" for --ssl-version`},
		{Settings{CertFile: "c.pem", Ciphers: "NOPE"}, `invalid value "NOPE" for --ciphers`},
	} {
		if _, err := Parse(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%+v) = %v; want an error containing %q", c.s, err, c.want)
		}
	}
	o, err := Parse(Settings{CertFile: "both.pem"})
	if err != nil || o.KeyFile != "both.pem" {
		t.Errorf("Parse(certfile only) = %+v, %v; want the key read from the certificate's file", o, err)
	}
}

// handshake runs a TLS handshake between a client with cfg and a server with store over a
// pipe, and returns the server's connection state.
func handshake(t *testing.T, store *Store, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, store.TLSConfig())
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(b, client)
		err := c.Handshake()
		if err == nil && c.ConnectionState().Version == tls.VersionTLS13 {
			// A TLS 1.3 client learns of a rejected certificate only on its first read.
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			c.Read(make([]byte, 1))
		}
		errc <- err
		b.Close()
	}()
	err := srv.Handshake()
	<-errc
	return srv.ConnectionState(), err
}

func TestReloadSwapsAndKeepsOnError(t *testing.T) {
	ca := tlstest.NewCA(t, "reload")
	first, second := ca.Server("first"), ca.Server("second")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first.Install(t, certFile, keyFile)
	opts, err := Parse(Settings{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	store, err := Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		var cn string
		client := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost",
			VerifyConnection: func(cs tls.ConnectionState) error { cn = cs.PeerCertificates[0].Subject.CommonName; return nil }}
		if _, err := handshake(t, store, client); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return cn
	}
	if cn := served(); cn != "first" {
		t.Fatalf("served %q; want first", cn)
	}
	second.Install(t, certFile, keyFile)
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if cn := served(); cn != "second" {
		t.Fatalf("after Reload served %q; want second", cn)
	}
	// A broken certificate file: Reload fails naming it and the second stays.
	os.WriteFile(certFile, []byte("not a certificate\n"), 0o600)
	if err := store.Reload(); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Fatalf("Reload of a broken file = %v; want an error naming %s", err, certFile)
	}
	// A key that does not match the certificate.
	first.Install(t, certFile, filepath.Join(dir, "unused.pem"))
	second.Install(t, filepath.Join(dir, "unused.pem"), keyFile)
	if err := store.Reload(); err == nil {
		t.Fatal("Reload with a key of another certificate succeeded")
	}
	if cn := served(); cn != "second" {
		t.Fatalf("after failed reloads served %q; want second", cn)
	}
	if store.Leaf().Subject.CommonName != "second" {
		t.Fatalf("Leaf = %v", store.Leaf().Subject)
	}
}

func TestClientCertificatesAndEnviron(t *testing.T) {
	ca := tlstest.NewCA(t, "mtls")
	srvPair := ca.Server("server")
	other := tlstest.NewCA(t, "other")
	alice := ca.Client(pkix.Name{CommonName: "alice", Organization: []string{"Example"}, OrganizationalUnit: []string{"Ops"}, Country: []string{"FR"}}, "alice@example.com")
	mallory := other.Client(pkix.Name{CommonName: "mallory"})
	for _, c := range []struct {
		reqs       string
		cert       *tlstest.Pair
		ok         bool
		wantVerify string
	}{
		{"0", alice, true, "NONE"}, // not asked for: not sent
		{"1", nil, true, "NONE"},
		{"1", alice, true, "SUCCESS"},
		{"1", mallory, false, ""},
		{"2", nil, false, ""},
		{"2", alice, true, "SUCCESS"},
		{"2", mallory, false, ""},
	} {
		opts, err := Parse(Settings{CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile, CACerts: ca.File, CertReqs: c.reqs})
		if err != nil {
			t.Fatal(err)
		}
		store, err := Load(opts)
		if err != nil {
			t.Fatal(err)
		}
		client := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
		if c.cert != nil {
			// Sent whatever CAs the server names, as curl does.
			cert := c.cert.TLS
			client.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		}
		st, err := handshake(t, store, client)
		name := "none"
		if c.cert != nil {
			name = c.cert.Cert.Subject.CommonName
		}
		if (err == nil) != c.ok {
			t.Errorf("cert-reqs %s, client certificate %s: handshake error %v; want ok=%v", c.reqs, name, err, c.ok)
			continue
		}
		if err != nil {
			continue
		}
		env := map[string]string{}
		for _, kv := range Environ(&st, time.Now()) {
			env[kv[0]] = kv[1]
		}
		if env["SSL_CLIENT_VERIFY"] != c.wantVerify || env["HTTPS"] != "on" || env["SSL_PROTOCOL"] != "TLSv1.3" {
			t.Errorf("cert-reqs %s, client %s: environ %v", c.reqs, name, env)
		}
		if c.wantVerify != "SUCCESS" {
			if _, ok := env["SSL_CLIENT_CERT"]; ok {
				t.Errorf("cert-reqs %s: SSL_CLIENT_CERT without a client certificate", c.reqs)
			}
			continue
		}
		want := map[string]string{
			"SSL_CLIENT_S_DN":        "CN=alice,OU=Ops,O=Example,C=FR",
			"SSL_CLIENT_S_DN_CN":     "alice",
			"SSL_CLIENT_S_DN_O":      "Example",
			"SSL_CLIENT_S_DN_OU":     "Ops",
			"SSL_CLIENT_S_DN_C":      "FR",
			"SSL_CLIENT_I_DN":        "CN=mtls,O=gonicorn tests",
			"SSL_CLIENT_I_DN_CN":     "mtls",
			"SSL_CLIENT_M_SERIAL":    strings.ToUpper(alice.Cert.SerialNumber.Text(16)),
			"SSL_CLIENT_M_VERSION":   "3",
			"SSL_CLIENT_V_END":       alice.Cert.NotAfter.UTC().Format("Jan _2 15:04:05 2006 GMT"),
			"SSL_CLIENT_V_REMAIN":    "0",
			"SSL_CLIENT_SAN_Email_0": "alice@example.com",
			"SSL_TLS_SNI":            "localhost",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q; want %q", k, env[k], v)
			}
		}
		if !strings.HasPrefix(env["SSL_CLIENT_CERT"], "-----BEGIN CERTIFICATE-----\n") {
			t.Errorf("SSL_CLIENT_CERT = %q", env["SSL_CLIENT_CERT"])
		}
	}
}

func TestMinVersionAndALPN(t *testing.T) {
	ca := tlstest.NewCA(t, "ver")
	p := ca.Server("s")
	opts, err := Parse(Settings{CertFile: p.CertFile, KeyFile: p.KeyFile, Version: "TLSv1_3"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, store, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12}); err == nil {
		t.Errorf("a TLS 1.2 client got through --ssl-version TLSv1_3")
	}
	st, err := handshake(t, store, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
	if err != nil || st.NegotiatedProtocol != "http/1.1" {
		t.Errorf("ALPN: %q, %v; want http/1.1", st.NegotiatedProtocol, err)
	}
}

// Without --keyfile the key is read from the --certfile file, as Python's load_cert_chain
// does when gunicorn gives it no keyfile.
func TestKeyInCertificateFile(t *testing.T) {
	ca := tlstest.NewCA(t, "combined")
	p := ca.Server("combined")
	cert, _ := os.ReadFile(p.CertFile)
	key, _ := os.ReadFile(p.KeyFile)
	both := filepath.Join(t.TempDir(), "both.pem")
	os.WriteFile(both, append(cert, key...), 0o600)
	opts, err := Parse(Settings{CertFile: both})
	if err != nil {
		t.Fatal(err)
	}
	store, err := Load(opts)
	if err != nil {
		t.Fatalf("Load with the key in the certificate's file: %v", err)
	}
	if _, err := handshake(t, store, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}); err != nil {
		t.Fatal(err)
	}
}
