package arbiter

import (
	"strings"
	"testing"
)

// TestLoadErrorMessage checks what a load error says: the interpreter that ran the worker,
// and for a module that is not found, whether to choose another interpreter (a package it
// lacks) or another directory (the application's own module).
func TestLoadErrorMessage(t *testing.T) {
	tb := func(last string) string {
		return "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n" + last + "\n"
	}
	tests := []struct {
		app, dir, last string
		want           []string // in the message
		not            []string // not in it
	}{
		{"mysite.wsgi", "", "ModuleNotFoundError: No module named 'django'",
			[]string{"/usr/bin/python3 (cpython 3.11.7)", `the module "django" is not installed for /usr/bin/python3`, "--python", "virtualenv"}, []string{"--chdir"}},
		{"mysite.wsgi:application", "/srv/mysite", "ModuleNotFoundError: No module named 'mysite'",
			[]string{`the application's module "mysite" is looked up in /srv/mysite`, "--chdir"}, []string{"not installed"}},
		{"app", "", "ModuleNotFoundError: No module named 'app'",
			[]string{"in the current directory"}, nil},
		{"mysite.wsgi", "", "ModuleNotFoundError: No module named 'rest_framework.authtoken'",
			[]string{`"rest_framework.authtoken" is not installed`}, nil},
		// A Django project found by its manage.py: the app is named by its settings module.
		{(&Spec{DjangoSettings: "mysite.settings"}).appName(), "/srv/mysite", "ModuleNotFoundError: No module named 'mysite'",
			[]string{`"mysite.settings:WSGI_APPLICATION"`, `the application's module "mysite" is looked up in /srv/mysite`}, []string{"not installed"}},
		// --paste: PasteDeploy itself is missing, not a module of the app's.
		{(&Spec{Paste: "/srv/paste/app.ini#admin"}).appName(), "/srv", "ModuleNotFoundError: No module named 'paste'",
			[]string{`"--paste /srv/paste/app.ini#admin"`, `the module "paste" is not installed for /usr/bin/python3`}, []string{"--chdir"}},
		{"mysite.wsgi", "", "NameError: name 'x' is not defined",
			[]string{"NameError"}, []string{"Hint"}},
	}
	for _, tt := range tests {
		e := &LoadError{App: tt.app, Python: "/usr/bin/python3", Version: "cpython 3.11.7", Dir: tt.dir, Traceback: tb(tt.last)}
		msg := e.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("LoadError{%s, %q}.Error() lacks %q:\n%s", tt.app, tt.last, w, msg)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(msg, n) {
				t.Errorf("LoadError{%s, %q}.Error() has %q:\n%s", tt.app, tt.last, n, msg)
			}
		}
	}
}
