package config

import (
	"strings"
	"testing"
)

// --http-protocols and the HTTP/2 tunables: what is accepted and what is refused, naming the
// flag and the value.
func TestHTTP2Settings(t *testing.T) {
	for _, tc := range []struct {
		args string
		h2   bool
		err  string
	}{
		{"", false, ""},
		{"--http-protocols h1,h2", true, ""},
		{"--http-protocols H2,h1", true, ""},
		{"--http2-cleartext", true, ""}, // implies h2
		{"--http-protocols h2", false, `invalid value "h2" for --http-protocols`},
		{"--http-protocols h1,h3", false, `h3 (HTTP/3) is not served`},
		{"--http-protocols h1,spdy", false, `"spdy" is none of h1, h2`},
		{"--http2-max-frame-size 16383", false, "invalid value 16383 for --http2-max-frame-size"},
		{"--http2-max-frame-size 16777216", false, "invalid value 16777216 for --http2-max-frame-size"},
		{"--http2-initial-window-size 0", false, "invalid value 0 for --http2-initial-window-size"},
		{"--http2-max-concurrent-streams 0", false, "invalid value 0 for --http2-max-concurrent-streams"},
	} {
		c, err := Parse(append(strings.Fields(tc.args), "app"), env())
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v; want one with %q", tc.args, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.args, err)
		case tc.err == "" && c.HTTP2() != tc.h2:
			t.Errorf("%s: HTTP2() = %v; want %v", tc.args, c.HTTP2(), tc.h2)
		}
	}
}

// A config file may set http2_cleartext and http_protocols in any order: the file's settings
// are checked one by one in name order, and http2_cleartext comes first.
func TestHTTP2ConfigFile(t *testing.T) {
	c, err := parseFile(t, "-c gunicorn.conf.py app", env(), map[string]Value{
		"http2_cleartext": pyv("bool", true), "http_protocols": pyv("str", "h1, h2"),
		"http2_max_concurrent_streams": pyv("int", "50")})
	if err != nil {
		t.Fatal(err)
	}
	if !c.HTTP2() || !c.HTTP2Cleartext || c.HTTP2MaxConcurrentStreams != 50 {
		t.Errorf("HTTP2() %v, cleartext %v, streams %d; want true, true, 50", c.HTTP2(), c.HTTP2Cleartext, c.HTTP2MaxConcurrentStreams)
	}
}

// http_protocols in a config file: a comma-separated string as in gunicorn, or a list or
// tuple of names (gunicorn 25's HTTP/2 guide writes http_protocols = ["h2", "h1"]); an empty
// string is the default, h1. Anything else is refused with the file, the name and the value.
func TestHTTPProtocolsConfigFile(t *testing.T) {
	for _, tc := range []struct {
		v   Value
		h2  bool
		err string
	}{
		{pyv("str", "h1,h2"), true, ""},
		{pyv("str", "h2, h1"), true, ""},
		{pyv("str", "h1"), false, ""},
		{pyv("str", ""), false, ""},
		{pyv("strlist", []string{"h2", "h1"}), true, ""},
		{pyv("strlist", []string{"h1"}), false, ""},
		{pyv("strlist", []string{}), false, ""},
		{pyv("strlist", []string{"h1", "h3"}), false, `invalid value "h1,h3" for --http-protocols: h3 (HTTP/3) is not served`},
		{pyv("strlist", []string{"h2"}), false, `invalid value "h2" for --http-protocols: gonicorn always serves HTTP/1.1`},
		{pyv("int", "2"), false, "want a comma-separated string or a list of strings"},
	} {
		c, err := parseFile(t, "-c gunicorn.conf.py app", env(), map[string]Value{"http_protocols": tc.v})
		prefix := "config file gunicorn.conf.py: http_protocols = " + tc.v.Repr + ": "
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), prefix+tc.err)):
			t.Errorf("http_protocols = %s: error %v; want one with %q", tc.v.Repr, err, prefix+tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("http_protocols = %s: %v", tc.v.Repr, err)
		case tc.err == "" && c.HTTP2() != tc.h2:
			t.Errorf("http_protocols = %s: HTTP2() = %v; want %v", tc.v.Repr, c.HTTP2(), tc.h2)
		}
	}
}
