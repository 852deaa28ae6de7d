package arbiter

import (
	"os"
	"testing"
)

func TestResidentBytes(t *testing.T) {
	rss, err := residentBytes(os.Getpid())
	if err != nil {
		t.Fatalf("residentBytes(self) = %v", err)
	}
	// A Go test binary is resident in more than 1 MiB and (here) less than 4 GiB.
	if rss < 1<<20 || rss > 4<<30 {
		t.Errorf("residentBytes(self) = %d; want a plausible RSS", rss)
	}
	if _, err := residentBytes(1 << 30); err == nil {
		t.Error("residentBytes(no such pid) succeeded")
	}
}
