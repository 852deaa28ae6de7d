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
