package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// logDjango writes, once the workers are ready, what gonicorn found of a Django application
// (docs/django.md): the startup line of a project found by its manage.py (no APP_MODULE),
// and the static and media settings of any app that configured Django, which the workers
// reported in their handshake (ready.Django).
func logDjango(log *slog.Logger, cfg *config.Config, ready wire.ReadyInfo) {
	if d := cfg.Django; d != nil {
		line := "Django project at " + d.Project + ": settings " + d.Settings
		if d.From != "manage.py" {
			line += " (DJANGO_SETTINGS_MODULE from " + d.From + ")"
		}
		if ready.Django != nil {
			line += ", WSGI_APPLICATION " + wsgiApplication(ready.Django.WSGIApplication)
		}
		log.Info(line)
	}
	if ready.Django != nil {
		log.Info(djangoStaticLine(ready.Django))
	}
}

// wsgiApplication describes the setting WSGI_APPLICATION: its value, or what Django serves
// when it is None.
func wsgiApplication(s string) string {
	if s == "" {
		return "None (django.core.wsgi.get_wsgi_application())"
	}
	return s
}

// djangoStaticLine describes a Django app's static and media settings, and says when
// STATIC_ROOT is set but collectstatic has not made it yet.
func djangoStaticLine(d *wire.Django) string {
	var b strings.Builder
	name := d.Settings
	if name == "" {
		name = "(settings.configure())"
	}
	b.WriteString("Django settings " + name + ": STATIC_URL " + orUnset(d.Static.StaticURL) +
		", STATIC_ROOT " + orUnset(d.Static.StaticRoot))
	if root := d.Static.StaticRoot; root != "" {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			b.WriteString(" (not a directory yet: run manage.py collectstatic)")
		}
	}
	b.WriteString("; MEDIA_URL " + orUnset(d.Static.MediaURL) + ", MEDIA_ROOT " + orUnset(d.Static.MediaRoot))
	return b.String()
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// djangoSettings is the settings module the workers load a Django project from, or "" when
// they serve APP_MODULE.
func djangoSettings(cfg *config.Config) string {
	if cfg.Django == nil {
		return ""
	}
	return cfg.Django.Settings
}
