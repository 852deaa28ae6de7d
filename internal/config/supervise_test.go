package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSupervisionSettings(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	// gunicorn's defaults: a 30 s timeout, no recycling.
	if c.Timeout != 30*time.Second || c.MaxRequests != 0 || c.MaxRequestsJitter != 0 || c.MaxWorkerLifetime != 0 || c.MaxWorkerMemory != 0 {
		t.Errorf("defaults: timeout %v max-requests %d jitter %d lifetime %v memory %d; want 30s and zeros",
			c.Timeout, c.MaxRequests, c.MaxRequestsJitter, c.MaxWorkerLifetime, c.MaxWorkerMemory)
	}
	c, err = Parse(strings.Fields("-t 0.5 --max-requests 1000 --max-requests-jitter 50 --max-worker-lifetime 3600 --max-worker-memory 512 app"), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 500*time.Millisecond || c.MaxRequests != 1000 || c.MaxRequestsJitter != 50 || c.MaxWorkerLifetime != time.Hour || c.MaxWorkerMemory != 512 {
		t.Errorf("parsed: timeout %v max-requests %d jitter %d lifetime %v memory %d",
			c.Timeout, c.MaxRequests, c.MaxRequestsJitter, c.MaxWorkerLifetime, c.MaxWorkerMemory)
	}
	for _, tc := range []struct{ args, flag string }{
		{"--timeout -1 app", "timeout"},
		{"--max-requests -1 app", "--max-requests"},
		{"--max-requests-jitter x app", "max-requests-jitter"},
		{"--max-worker-lifetime forever app", "max-worker-lifetime"},
		{"--max-worker-memory -5 app", "--max-worker-memory"},
	} {
		if _, err := Parse(strings.Fields(tc.args), env()); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("Parse(%q) error = %v; want one naming %s", tc.args, err, tc.flag)
		}
	}
}
