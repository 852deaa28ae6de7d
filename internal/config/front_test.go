package config

import (
	"strings"
	"testing"
	"time"
)

func TestFrontDefaults(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ProxyProtocol != "off" || c.ProxyAllowFrom != "127.0.0.1,::1" || c.MaxConnections != 10000 ||
		c.HeaderTimeout != 30*time.Second || c.BodyTimeout != 30*time.Second {
		t.Errorf("Parse(app) = proxy %q from %q, max %d, header %v, body %v; want off, 127.0.0.1,::1, 10000, 30s, 30s",
			c.ProxyProtocol, c.ProxyAllowFrom, c.MaxConnections, c.HeaderTimeout, c.BodyTimeout)
	}
	c, err = Parse(strings.Fields("--proxy-protocol v2 --proxy-allow-from 10.0.0.0/8 --max-connections 0 --header-timeout 0.5 --body-timeout 2 app"), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ProxyProtocol != "v2" || c.ProxyAllowFrom != "10.0.0.0/8" || c.MaxConnections != 0 ||
		c.HeaderTimeout != 500*time.Millisecond || c.BodyTimeout != 2*time.Second {
		t.Errorf("Parse = %+v", c)
	}
}

func TestFrontInvalid(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--proxy-protocol on", "--proxy-protocol"},
		{"--proxy-allow-from example.com", "--proxy-allow-from"},
		{"--max-connections -1", "--max-connections"},
		{"--max-connections x", "--max-connections"},
		{"--header-timeout 0", "--header-timeout"},
		{"--body-timeout -1", "--body-timeout"},
	} {
		_, err := Parse(strings.Fields(tt.args+" app"), env())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v; want an error naming %s", tt.args, err, tt.want)
		}
	}
}

func TestTrustAndSpoolSettings(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ForwardedAllowHeaders != "x-forwarded-for,x-forwarded-proto,x-forwarded-ssl,x-forwarded-protocol" ||
		c.MaxResponseSpool != 64<<20 || c.WriteTimeout != 60*time.Second || c.TmpDir != "" {
		t.Errorf("Parse(app) = headers %q, spool %d, write timeout %v, tmp dir %q; want the defaults",
			c.ForwardedAllowHeaders, c.MaxResponseSpool, c.WriteTimeout, c.TmpDir)
	}
	c, err = Parse(strings.Fields("--forwarded-allow-headers X-Forwarded-Host,forwarded --max-response-spool 0 --write-timeout 2.5 --tmp-dir /var/tmp app"), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ForwardedAllowHeaders != "X-Forwarded-Host,forwarded" || c.MaxResponseSpool != 0 ||
		c.WriteTimeout != 2500*time.Millisecond || c.TmpDir != "/var/tmp" {
		t.Errorf("Parse = %+v", c)
	}
	// An empty list believes no header.
	if c, err := Parse([]string{"--forwarded-allow-headers=", "app"}, env()); err != nil || c.ForwardedAllowHeaders != "" {
		t.Errorf("Parse(--forwarded-allow-headers=) = %v; want no error and an empty list", err)
	}
	for _, tt := range []struct{ args, want string }{
		{"--forwarded-allow-headers x-real-ip", "--forwarded-allow-headers"},
		{"--max-response-spool -1", "--max-response-spool"},
		{"--max-response-spool 1m", "--max-response-spool"},
		{"--write-timeout 0", "--write-timeout"},
	} {
		_, err := Parse(strings.Fields(tt.args+" app"), env())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v; want an error naming %s", tt.args, err, tt.want)
		}
	}
}

// gunicorn's tmp_upload_dir sets --tmp-dir; its worker_tmp_dir, a heartbeat directory, does
// not (it is often /dev/shm, too small for spooled bodies) and is ignored with a warning.
func TestTmpDirConfigFile(t *testing.T) {
	c, err := parseFile(t, "-c gunicorn.conf.py app", env(), map[string]Value{
		"tmp_upload_dir": pyv("str", "/srv/spool"), "worker_tmp_dir": pyv("str", "/dev/shm"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.TmpDir != "/srv/spool" {
		t.Errorf("TmpDir = %q; want /srv/spool from tmp_upload_dir", c.TmpDir)
	}
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "worker_tmp_dir") || !strings.Contains(w, "--tmp-dir") {
		t.Errorf("warnings %q; want one for worker_tmp_dir pointing to --tmp-dir", w)
	}
}
