package config

import (
	"slices"
	"strings"
	"testing"
)

// A reload applies worker settings; listener and front settings are reported as kept.
func TestStaticChanges(t *testing.T) {
	parse := func(args string) *Config {
		c, err := Parse(strings.Fields(args), env())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := parse("-w 2 -b 127.0.0.1:8000 --max-connections 10 app")
	next := parse("-w 4 --threads 3 -b 127.0.0.1:9000 --max-connections 20 --pid /tmp/p app2")
	got := StaticChanges(old, next)
	slices.Sort(got)
	want := []string{"bind", "max-connections", "pid"}
	if !slices.Equal(got, want) {
		t.Errorf("StaticChanges = %q; want %q", got, want)
	}
	if got := StaticChanges(old, old); len(got) != 0 {
		t.Errorf("StaticChanges(c, c) = %q; want none", got)
	}
}
