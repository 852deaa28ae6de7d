package e2e

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A real browser: headless Chromium (Debian's chromium and chromium-driver, driven by
// python3-selenium) loads the Django admin over HTTPS with a self-signed certificate, over
// HTTP/2, with its stylesheets served by the master (--static), and logs in.
func TestBrowserDjangoAdminH2(t *testing.T) {
	debianBinary(t, "/usr/bin/chromium", "chromium")
	debianBinary(t, "/usr/bin/chromedriver", "chromium-driver")
	py := debianPython(t, "selenium")
	debianPython(t, "django")
	out, err := exec.Command(py, "-c", "import django.contrib.admin, os; print(os.path.dirname(django.contrib.admin.__file__))").Output()
	if err != nil {
		t.Fatalf("finding Django's admin: %v", err)
	}
	adminStatic := filepath.Join(strings.TrimSpace(string(out)), "static", "admin")
	db := setupDjangoDB(t, py)
	ts := newTLSSetup(t)
	s := startDjango(t, py, db, ts.args("--http-protocols", "h1,h2", "--static", "/static/admin="+adminStatic,
		"--access-logfile", "-", "--access-logformat", `"%(r)s" %(s)s`)...)
	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(py, "browser/django_admin.py", "https://localhost:"+port)
	res, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("Chromium: %v\n%s\n%s", err, res, stderr)
	}
	var got struct {
		LoginProtocol string  `json:"login_protocol"`
		CSS           [][]any `json:"css"`
		CSSOK         bool    `json:"css_ok"`
		Title         string  `json:"title"`
		AdminIndex    bool    `json:"admin_index"`
	}
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatalf("Chromium's report %q: %v", res, err)
	}
	t.Logf("Chromium: %s", res)
	if got.LoginProtocol != "h2" {
		t.Errorf("the login page came over %q; want h2", got.LoginProtocol)
	}
	if len(got.CSS) == 0 || !got.CSSOK {
		t.Errorf("the admin's stylesheets: %v (applied: %v)", got.CSS, got.CSSOK)
	}
	for _, c := range got.CSS {
		if len(c) < 3 || c[1] != "h2" || c[2] != 200.0 {
			t.Errorf("stylesheet %v: want 200 over h2", c)
		}
	}
	if !got.AdminIndex {
		t.Errorf("after logging in: title %q; want the admin index", got.Title)
	}
	for _, line := range []string{`"GET /admin/login/?next=/admin/ HTTP/2" 200`, `"POST /admin/login/?next=/admin/ HTTP/2" 302`, `"GET /admin/ HTTP/2" 200`} {
		if !strings.Contains(s.log.String(), line) {
			t.Errorf("no access log line %s:\n%s", line, s.log)
		}
	}
}
