// Package wheel writes gonicorn's binary wheels: the zip files that `pip install gonicorn`
// installs (the binary distribution format of PEP 427, kept at packaging.python.org as
// "Binary distribution format"). A wheel carries the static gonicorn binary as a script, so
// pip puts it in the bin/ of the virtualenv it installs into, and a small `gonicorn` Python
// package whose __main__ execs that binary, for `python -m gonicorn` — the shape of ruff's and
// uv's wheels. This package is pure: it turns a binary and a version into wheel bytes; the
// build itself is tools/wheel.
//
// A wheel is:
//
//	gonicorn/__init__.py                     finds the binary (find_gonicorn_bin)
//	gonicorn/__main__.py                     python -m gonicorn: exec the binary
//	gonicorn-VERSION.data/scripts/gonicorn   the binary; pip installs it into bin/, mode 0755
//	gonicorn-VERSION.dist-info/METADATA      core metadata 2.1: name, version, Requires-Python
//	gonicorn-VERSION.dist-info/WHEEL         wheel version 1.0, not purelib, the tags
//	gonicorn-VERSION.dist-info/RECORD        every file's sha256 and size; RECORD itself last
package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Name is the distribution's name on PyPI, of its Python package and of the installed command.
const Name = "gonicorn"

// RequiresPython is the oldest Python the worker supports.
const RequiresPython = ">=3.9"

// homePage is where the project lives (the module path, github.com/gonicorn/gonicorn).
const homePage = "https://github.com/gonicorn/gonicorn"

//go:embed gonicorn/__init__.py
var initPy []byte

//go:embed gonicorn/__main__.py
var mainPy []byte

// Spec describes one wheel.
type Spec struct {
	Version string // the release, config.Version; must be a PEP 440 version
	Arch    string // GOARCH the binary was built for: "amd64" or "arm64"
	Binary  []byte // a static (CGO_ENABLED=0) linux gonicorn executable for Arch
	Readme  string // the long description in Markdown (README.md), shown by PyPI; "" = none
}

// Platform returns the wheel's platform tag for a GOARCH: the manylinux tags (PEP 600 and its
// manylinux2014 alias, the oldest that has aarch64) and the musllinux tag (PEP 656), as a
// compressed tag set sorted as PEP 425 asks. One wheel serves glibc and musl (Alpine) alike
// because the binary is static and links no libc at all; it needs only the Linux kernel Go
// supports, which manylinux2014's CentOS 7 (kernel 3.10) has.
func Platform(goarch string) (string, error) {
	m, _, err := machine(goarch)
	if err != nil {
		return "", err
	}
	tags := []string{"manylinux_2_17_" + m, "manylinux2014_" + m, "musllinux_1_1_" + m}
	sort.Strings(tags)
	return strings.Join(tags, "."), nil
}

// machine maps a GOARCH to the wheel tags' name of the CPU (sysconfig.get_platform's) and the
// ELF machine of a binary built for it.
func machine(goarch string) (string, elf.Machine, error) {
	switch goarch {
	case "amd64":
		return "x86_64", elf.EM_X86_64, nil
	case "arm64":
		return "aarch64", elf.EM_AARCH64, nil
	}
	return "", 0, fmt.Errorf("GOARCH %q: gonicorn's wheels are built for amd64 (x86_64) and arm64 (aarch64)", goarch)
}

// pep440 matches the public versions of PEP 440 in their normal form (1.2.3, 1.0rc1,
// 1.0.post1, 1.1.dev3), which need no normalising in a wheel's file name.
var pep440 = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?$`)

// Filename returns the wheel's file name,
// {distribution}-{version}-{python tag}-{abi tag}-{platform tag}.whl: any Python 3, no ABI
// (the wheel has no extension module), the Linux platform tags of Platform.
func Filename(version, goarch string) (string, error) {
	if !pep440.MatchString(version) {
		return "", fmt.Errorf("version %q is not a PEP 440 version in normal form (such as 1.2.3, 1.0rc1, 1.0.post1)", version)
	}
	plat, err := Platform(goarch)
	if err != nil {
		return "", err
	}
	return Name + "-" + version + "-py3-none-" + plat + ".whl", nil
}

// Write writes the wheel of s to w. The archive is reproducible: the same Spec gives the same
// bytes (fixed timestamps, fixed order).
func Write(w io.Writer, s Spec) error {
	if _, err := Filename(s.Version, s.Arch); err != nil {
		return err
	}
	if err := checkBinary(s.Binary, s.Arch); err != nil {
		return err
	}
	plat, _ := Platform(s.Arch)
	data := Name + "-" + s.Version + ".data"
	info := Name + "-" + s.Version + ".dist-info"
	files := []file{
		{name: Name + "/__init__.py", body: initPy, mode: 0o644},
		{name: Name + "/__main__.py", body: mainPy, mode: 0o644},
		// pip installs .data/scripts/ into the scripts directory (bin/) and marks it
		// executable; a binary is copied as it is (only a "#!python" first line is rewritten).
		{name: data + "/scripts/" + Name, body: s.Binary, mode: 0o755},
		// The .dist-info directory goes at the end of the archive, as the format recommends.
		{name: info + "/METADATA", body: metadata(s), mode: 0o644},
		{name: info + "/WHEEL", body: wheelFile(plat), mode: 0o644},
	}
	files = append(files, file{name: info + "/RECORD", body: record(files, info+"/RECORD"), mode: 0o644})

	zw := zip.NewWriter(w)
	for _, f := range files {
		if err := f.writeTo(zw); err != nil {
			return fmt.Errorf("writing %s to the wheel: %w", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finishing the wheel: %w", err)
	}
	return nil
}

// checkBinary reports an error unless bin is a Linux ELF executable for goarch with no
// dynamic linking: the wheel's tags promise it runs on any glibc or musl Linux, which holds
// only for a static binary (CGO_ENABLED=0).
func checkBinary(bin []byte, goarch string) error {
	_, want, err := machine(goarch)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("the gonicorn binary is not an ELF executable: %w", err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("the gonicorn binary is for %v, not %v (GOARCH %s)", f.Machine, want, goarch)
	}
	// A program interpreter (ld.so) is libc's; a static PIE has none.
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("the gonicorn binary is dynamically linked; build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// metadata returns the core metadata (version 2.1, the newest every pip since 2018 reads).
func metadata(s Spec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", Name, s.Version)
	b.WriteString("Summary: A production WSGI server in one static Go binary, with gunicorn's flags, signals and log format\n")
	fmt.Fprintf(&b, "Home-page: %s\nProject-URL: Source, %s\n", homePage, homePage)
	b.WriteString("Keywords: wsgi,http,server,gunicorn,django,flask\n")
	for _, c := range []string{
		"Development Status :: 4 - Beta",
		"Environment :: Web Environment",
		"Intended Audience :: Developers",
		"Operating System :: POSIX :: Linux",
		"Programming Language :: Go",
		"Programming Language :: Python :: 3",
		"Topic :: Internet :: WWW/HTTP :: WSGI :: Server",
	} {
		fmt.Fprintf(&b, "Classifier: %s\n", c)
	}
	fmt.Fprintf(&b, "Requires-Python: %s\n", RequiresPython)
	if s.Readme != "" {
		b.WriteString("Description-Content-Type: text/markdown\n\n")
		b.WriteString(s.Readme)
	}
	return b.Bytes()
}

// wheelFile returns the WHEEL file: format version, generator, that the root goes to platlib
// (the wheel holds a platform binary), and one Tag line per expanded tag.
func wheelFile(platform string) []byte {
	var b bytes.Buffer
	b.WriteString("Wheel-Version: 1.0\nGenerator: gonicorn tools/wheel\nRoot-Is-Purelib: false\n")
	for _, p := range strings.Split(platform, ".") {
		fmt.Fprintf(&b, "Tag: py3-none-%s\n", p)
	}
	return b.Bytes()
}

// record returns the RECORD file: a CSV row per file with its path, "sha256=" and the
// digest in urlsafe base64 without padding, and its size in bytes; the RECORD's own row has
// neither.
func record(files []file, self string) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	for _, f := range files {
		sum := sha256.Sum256(f.body)
		cw.Write([]string{f.name, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), fmt.Sprint(len(f.body))})
	}
	cw.Write([]string{self, "", ""})
	cw.Flush()
	return b.Bytes()
}

// file is one member of the archive.
type file struct {
	name string
	body []byte
	mode fs.FileMode // permission bits; pip sets the executable bit from them
}

// writeTo adds f to the archive, compressed, with the zip format's earliest timestamp, so
// that a wheel depends only on its contents.
func (f file) writeTo(zw *zip.Writer) error {
	h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(f.mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = w.Write(f.body)
	return err
}
