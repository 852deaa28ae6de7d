package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSDefaults(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.CertFile != "" || c.CertReqs != "0" || c.SSLVersion != "TLSv1_2" || c.Ciphers != "" ||
		c.DoHandshakeOnConnect || !c.SuppressRaggedEOFs || c.TLS().Enabled() {
		t.Errorf("TLS defaults = %+v", c.TLS())
	}
	c, err = Parse(strings.Fields("--certfile c.pem --keyfile k.pem --ca-certs ca.pem --cert-reqs 2 --ssl-version TLSv1_3 --ciphers ECDHE+AESGCM --do-handshake-on-connect --suppress-ragged-eofs=false app"), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.CertFile != "c.pem" || c.KeyFile != "k.pem" || c.CACerts != "ca.pem" || c.CertReqs != "2" ||
		c.SSLVersion != "TLSv1_3" || c.Ciphers != "ECDHE+AESGCM" || !c.DoHandshakeOnConnect || c.SuppressRaggedEOFs {
		t.Errorf("TLS flags = %+v", c)
	}
}

func TestTLSInvalid(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--keyfile k.pem", `invalid value "k.pem" for --keyfile: needs --certfile`},
		{"--certfile c.pem --cert-reqs 2", `invalid value "2" for --cert-reqs: client certificates need --ca-certs`},
		{"--certfile c.pem --cert-reqs 7", `invalid value "7" for --cert-reqs`},
		{"--certfile c.pem --ssl-version TLSv1", `invalid value "TLSv1" for --ssl-version: TLS 1.0 and 1.1 are not offered`},
		{"--certfile c.pem --ciphers DHE-RSA-AES128-GCM-SHA256", `invalid value "DHE-RSA-AES128-GCM-SHA256" for --ciphers: unknown cipher`},
		{"--bind https://127.0.0.1:8443", `invalid value "https://127.0.0.1:8443" for --bind: https:// needs --certfile`},
		{"--bind http://unix:/x", `invalid value "http://unix:/x" for --bind`},
		{"--bind https://127.0.0.1:8443/x", `invalid value "https://127.0.0.1:8443/x" for --bind`},
	} {
		_, err := Parse(strings.Fields(tt.args+" app"), env())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v; want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// gunicorn's SSL settings in a config file: the names, Python's ssl constants (integers),
// booleans.
func TestTLSConfigFile(t *testing.T) {
	c, err := parseFile(t, "-c conf.py app", env(), map[string]Value{
		"certfile": pyv("str", "/etc/c.pem"), "keyfile": pyv("str", "/etc/k.pem"), "ca_certs": pyv("str", "/etc/ca.pem"),
		"cert_reqs": pyv("int", "1"), "ssl_version": pyv("int", "5"), "ciphers": pyv("str", "ECDHE:!aNULL"),
		"do_handshake_on_connect": pyv("bool", true), "suppress_ragged_eofs": pyv("str", "False"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.CertFile != "/etc/c.pem" || c.KeyFile != "/etc/k.pem" || c.CACerts != "/etc/ca.pem" || c.CertReqs != "1" ||
		c.SSLVersion != "5" || c.Ciphers != "ECDHE:!aNULL" || !c.DoHandshakeOnConnect || c.SuppressRaggedEOFs || len(c.Warnings) != 0 {
		t.Errorf("from the file: %+v, warnings %q", c.TLS(), c.Warnings)
	}
	_, err = parseFile(t, "-c conf.py app", env(), map[string]Value{"certfile": pyv("str", "/c.pem"), "ssl_version": pyv("str", "SSLv3")})
	if err == nil || !strings.Contains(err.Error(), "conf.py: ssl_version = 'SSLv3'") {
		t.Errorf("ssl_version = 'SSLv3': %v; want an error naming the file, the setting and the value", err)
	}
}

// The real loader turns ssl.CERT_REQUIRED and ssl.PROTOCOL_TLS_SERVER (IntEnums, whose str()
// is their name before Python 3.11) into their numbers.
func TestTLSConfigFilePythonConstants(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not on PATH")
	}
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	os.WriteFile(conf, []byte("import ssl\ncertfile = '/c.pem'\nca_certs = '/ca.pem'\ncert_reqs = ssl.CERT_REQUIRED\nssl_version = ssl.PROTOCOL_TLS_SERVER\n"), 0o644)
	c, err := ParseFrom([]string{"-c", conf, "--python", py, "app"}, Sources{Getenv: env(), Load: LoadFile})
	if err != nil {
		t.Fatal(err)
	}
	if c.CertReqs != "2" || c.SSLVersion != "17" {
		t.Errorf("cert_reqs = %q, ssl_version = %q; want 2 and 17", c.CertReqs, c.SSLVersion)
	}
}
