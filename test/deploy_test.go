package e2e

// deploy/ cannot be built or applied here; these tests check what can be checked without
// Docker or Kubernetes: every gonicorn flag there parses with the real settings table, and
// the ports, probes and grace period agree with those flags (docs/operations.md).

import (
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/config"
)

func readDeploy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parseDeployArgs parses args as gonicorn's command line, without the environment.
func parseDeployArgs(t *testing.T, where string, args []string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%s: gonicorn %s: %v", where, strings.Join(args, " "), err)
	}
	return cfg
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

func TestDockerfileFlags(t *testing.T) {
	df := readDeploy(t, "Dockerfile")
	line := func(instr string) string {
		for _, l := range strings.Split(df, "\n") {
			if strings.HasPrefix(l, instr+" ") {
				return strings.TrimPrefix(l, instr+" ")
			}
		}
		t.Fatalf("deploy/Dockerfile has no %s line", instr)
		return ""
	}
	var entry, args []string
	if err := json.Unmarshal([]byte(line("ENTRYPOINT")), &entry); err != nil || len(entry) != 1 || !strings.HasSuffix(entry[0], "/gonicorn") {
		t.Errorf("ENTRYPOINT %s: want the exec form [\".../gonicorn\"] (%v)", line("ENTRYPOINT"), err)
	}
	if err := json.Unmarshal([]byte(line("CMD")), &args); err != nil {
		t.Fatalf("CMD %s: want the exec form (a JSON array): %v", line("CMD"), err)
	}
	cfg := parseDeployArgs(t, "deploy/Dockerfile CMD", args)
	if got := line("STOPSIGNAL"); got != "SIGTERM" {
		t.Errorf("STOPSIGNAL %s; want SIGTERM (gonicorn's graceful stop)", got)
	}
	if u := line("USER"); u == "root" || u == "0" {
		t.Errorf("USER %s; want a non-root user", u)
	}
	expose := strings.Fields(line("EXPOSE"))
	for _, addr := range append([]string{cfg.MetricsBind}, cfg.Bind...) {
		if p := port(t, addr); !strings.Contains(" "+strings.Join(expose, " ")+" ", " "+p+" ") {
			t.Errorf("EXPOSE %v lacks port %s of %s", expose, p, addr)
		}
	}
	if cfg.ShutdownDelay <= 0 {
		t.Errorf("CMD sets no --shutdown-delay; a container behind a load balancer needs one")
	}
}

func TestKubernetesFlags(t *testing.T) {
	y := readDeploy(t, "kubernetes.yaml")
	var args []string
	in := false
	for _, l := range strings.Split(y, "\n") {
		switch s := strings.TrimSpace(l); {
		case s == "args:":
			in = true
		case in && strings.HasPrefix(s, "- "):
			args = append(args, strings.TrimPrefix(s, "- "))
		default:
			in = false
		}
	}
	cfg := parseDeployArgs(t, "deploy/kubernetes.yaml args", args)

	num := func(re string) int {
		m := regexp.MustCompile(re).FindStringSubmatch(y)
		if m == nil {
			t.Fatalf("deploy/kubernetes.yaml: nothing matches %s", re)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if p := num(`name: metrics\s+containerPort: (\d+)`); strconv.Itoa(p) != port(t, cfg.MetricsBind) {
		t.Errorf("containerPort metrics = %d; want the port of --metrics-bind %s", p, cfg.MetricsBind)
	}
	if p := num(`name: http\s+containerPort: (\d+)`); strconv.Itoa(p) != port(t, cfg.Bind[0]) {
		t.Errorf("containerPort http = %d; want the port of --bind %s", p, cfg.Bind[0])
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		if !regexp.MustCompile(probe + `:\s+httpGet:\s+path: /(livez|readyz)\s+port: metrics`).MatchString(y) {
			t.Errorf("%s does not GET /livez or /readyz on the metrics port", probe)
		}
	}
	grace := time.Duration(num(`terminationGracePeriodSeconds: (\d+)`)) * time.Second
	if grace <= cfg.ShutdownDelay+cfg.GracefulTimeout {
		t.Errorf("terminationGracePeriodSeconds %v <= --shutdown-delay %v + --graceful-timeout %v: the kubelet would kill the drain",
			grace, cfg.ShutdownDelay, cfg.GracefulTimeout)
	}
	period := time.Duration(num(`readinessProbe:[^-]*?periodSeconds: (\d+)`)) * time.Second
	failures := time.Duration(num(`readinessProbe:[^-]*?failureThreshold: (\d+)`))
	if period*failures >= cfg.ShutdownDelay {
		t.Errorf("readiness period %v × failureThreshold %d >= --shutdown-delay %v: traffic may still come after the listener closed",
			period, failures, cfg.ShutdownDelay)
	}
}
