package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/static"
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

// djangoMounts are the static mounts of a Django app's settings, as its workers reported
// them (docs/django.md): STATIC_URL from STATIC_ROOT unless --django-static=false, and
// MEDIA_URL from MEDIA_ROOT with --serve-media. A setting that cannot be served (unset, a
// full URL such as a CDN's, a root that does not exist yet, a prefix a --static mount
// already has) is skipped with a log line saying why; it never stops the server.
func djangoMounts(log *slog.Logger, cfg *config.Config, ready wire.ReadyInfo, taken []static.Mount) []static.Mount {
	if ready.Django == nil {
		return nil
	}
	d := ready.Django.Static
	var mounts []static.Mount
	add := func(urlName, url, rootName, root string, opts static.Options) {
		prefix, why := djangoPrefix(cfg.RootPath, url)
		if why == "" && root == "" {
			why = rootName + " is unset"
		}
		if why == "" {
			if err := static.CheckDir(root); err != nil {
				why = rootName + ": " + err.Error()
				if urlName == "STATIC_URL" {
					why += " (run manage.py collectstatic)"
				}
			}
		}
		for _, m := range taken {
			if why == "" && strings.TrimSuffix(m.Prefix, "/") == strings.TrimSuffix(prefix, "/") {
				why = "--static serves " + m.Prefix + " already"
			}
		}
		if why != "" {
			log.Info("Not serving Django's " + urlName + " from the master: " + why)
			return
		}
		log.Info("Serving Django's " + urlName + " " + prefix + " from " + rootName + " " + root)
		mounts = append(mounts, static.Mount{Prefix: prefix, Dir: root, Options: opts})
	}
	switch {
	case ready.Django.DevStatic:
		// --reload with DEBUG on: the workers serve it from the apps' static/ directories and
		// STATICFILES_DIRS, as runserver does, so an edited file shows without collectstatic
		// (a STATIC_ROOT from an earlier collectstatic would serve stale copies).
		log.Info("Serving Django's STATIC_URL " + d.StaticURL + " through django.contrib.staticfiles' finders in the workers (--reload with DEBUG on, as runserver does)")
	case cfg.DjangoStatic:
		add("STATIC_URL", d.StaticURL, "STATIC_ROOT", d.StaticRoot, cfg.StaticOptions())
	}
	if cfg.ServeMedia {
		opts := cfg.StaticOptions()
		opts.Uploads = true
		add("MEDIA_URL", d.MediaURL, "MEDIA_ROOT", d.MediaRoot, opts)
	}
	return mounts
}

// djangoPrefix is the URL path a Django STATIC_URL or MEDIA_URL setting names, or why it
// names none: "/static/" as it is; a relative "static/" under the script prefix, as Django
// reads it (--root-path, else "/"); a full URL ("https://cdn.example/static/", "//cdn/...")
// is served by someone else.
func djangoPrefix(rootPath, url string) (prefix, why string) {
	switch {
	case url == "":
		return "", "it is unset"
	case strings.Contains(url, "://") || strings.HasPrefix(url, "//"):
		return "", "it is a full URL (" + url + "), served elsewhere"
	case !strings.HasPrefix(url, "/"):
		url = strings.TrimSuffix(rootPath, "/") + "/" + url
	}
	if err := static.CheckPrefix(url); err != nil {
		return "", err.Error()
	}
	return url, ""
}
