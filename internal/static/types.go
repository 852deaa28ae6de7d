package static

import "strings"

// fileType is what the extension table says of a file name.
type fileType struct {
	contentType string
	// compressible types are the ones collectstatic (and WhiteNoise) write .gz/.br siblings
	// for; only for them are siblings looked for, and Vary: Accept-Encoding sent.
	compressible bool
}

// types is the fixed extension table (lower-case, with the dot). It does not depend on the
// host's /etc/mime.types, so a file gets the same Content-Type on every machine. Text types
// carry charset=utf-8, as WhiteNoise and Django's static view send them. A name without a
// known extension is application/octet-stream. docs/static.md lists the table.
var types = map[string]fileType{
	// Text.
	".html":        {"text/html; charset=utf-8", true},
	".htm":         {"text/html; charset=utf-8", true},
	".css":         {"text/css; charset=utf-8", true},
	".js":          {"text/javascript; charset=utf-8", true}, // RFC 9239
	".mjs":         {"text/javascript; charset=utf-8", true},
	".json":        {"application/json; charset=utf-8", true},
	".map":         {"application/json; charset=utf-8", true}, // source maps
	".webmanifest": {"application/manifest+json; charset=utf-8", true},
	".xml":         {"application/xml; charset=utf-8", true},
	".rss":         {"application/rss+xml; charset=utf-8", true},
	".atom":        {"application/atom+xml; charset=utf-8", true},
	".txt":         {"text/plain; charset=utf-8", true},
	".md":          {"text/markdown; charset=utf-8", true},
	".csv":         {"text/csv; charset=utf-8", true},
	".svg":         {"image/svg+xml; charset=utf-8", true},
	".ics":         {"text/calendar; charset=utf-8", true},
	// Images.
	".png":  {"image/png", false},
	".apng": {"image/apng", false},
	".jpg":  {"image/jpeg", false},
	".jpeg": {"image/jpeg", false},
	".gif":  {"image/gif", false},
	".webp": {"image/webp", false},
	".avif": {"image/avif", false},
	".ico":  {"image/vnd.microsoft.icon", true},
	".bmp":  {"image/bmp", true},
	// Fonts.
	".woff":  {"font/woff", false},
	".woff2": {"font/woff2", false},
	".ttf":   {"font/ttf", true},
	".otf":   {"font/otf", true},
	".eot":   {"application/vnd.ms-fontobject", true},
	// Media.
	".mp4":  {"video/mp4", false},
	".webm": {"video/webm", false},
	".ogg":  {"audio/ogg", false},
	".mp3":  {"audio/mpeg", false},
	".wav":  {"audio/wav", true},
	// Other.
	".wasm": {"application/wasm", true},
	".pdf":  {"application/pdf", false},
	".zip":  {"application/zip", false},
	".gz":   {"application/gzip", false},
	".tgz":  {"application/gzip", false},
}

const defaultType = "application/octet-stream"

// typeOf returns the table's entry for the extension of the file name (or path) name.
func typeOf(name string) fileType {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || strings.IndexByte(name[i:], '/') >= 0 {
		return fileType{contentType: defaultType}
	}
	ext := name[i:]
	if t, ok := types[ext]; ok {
		return t
	}
	if t, ok := types[strings.ToLower(ext)]; ok {
		return t
	}
	return fileType{contentType: defaultType}
}
