package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
)

// fakeELF returns a minimal 64-bit little-endian ELF executable header for machine, with a
// PT_INTERP program header (a dynamically linked binary) when dynamic, followed by payload.
func fakeELF(machine elf.Machine, dynamic bool, payload string) []byte {
	var b bytes.Buffer
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	b.Write(ident[:])
	var phoff uint64
	var phnum uint16
	if dynamic {
		phoff, phnum = 64, 1
	}
	le := binary.LittleEndian
	for _, v := range []any{
		uint16(elf.ET_EXEC), uint16(machine), uint32(elf.EV_CURRENT),
		uint64(0x401000), phoff, uint64(0), // entry, program headers, section headers
		uint32(0), uint16(64), uint16(56), phnum, uint16(64), uint16(0), uint16(0),
	} {
		binary.Write(&b, le, v)
	}
	if dynamic {
		for _, v := range []any{uint32(elf.PT_INTERP), uint32(elf.PF_R), uint64(120), uint64(0), uint64(0), uint64(28), uint64(28), uint64(1)} {
			binary.Write(&b, le, v)
		}
		b.WriteString("/lib64/ld-linux-x86-64.so.2\x00")
	}
	b.WriteString(payload)
	return b.Bytes()
}

func TestFilename(t *testing.T) {
	for _, tc := range []struct {
		version, arch, want string
	}{
		// PEP 425: a compressed tag set is sorted ('2' < '_').
		{"0.1.0", "amd64", "gonicorn-0.1.0-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_1_x86_64.whl"},
		{"0.1.0", "arm64", "gonicorn-0.1.0-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.musllinux_1_1_aarch64.whl"},
		{"1.0rc2", "amd64", "gonicorn-1.0rc2-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_1_x86_64.whl"},
		{"2.3.post1.dev4", "amd64", "gonicorn-2.3.post1.dev4-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_1_x86_64.whl"},
	} {
		if got, err := Filename(tc.version, tc.arch); err != nil || got != tc.want {
			t.Errorf("Filename(%q, %q) = %q, %v; want %q", tc.version, tc.arch, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ version, arch, want string }{
		{"0.1.0-dev", "amd64", `version "0.1.0-dev" is not a PEP 440 version`}, // '-' would split the file name
		{"v1.0", "amd64", `version "v1.0"`},
		{"01.0", "amd64", `version "01.0"`}, // not normal form
		{"", "amd64", `version ""`},
		{"0.1.0", "386", `GOARCH "386"`},
	} {
		if got, err := Filename(tc.version, tc.arch); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Filename(%q, %q) = %q, %v; want an error containing %q", tc.version, tc.arch, got, err, tc.want)
		}
	}
}

// TestWrite opens a wheel as an installer would and checks each part against the format.
func TestWrite(t *testing.T) {
	bin := fakeELF(elf.EM_X86_64, false, "the binary")
	var buf bytes.Buffer
	if err := Write(&buf, Spec{Version: "0.1.0", Arch: "amd64", Binary: bin, Readme: "# gonicorn\n\nread me\n"}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	content := map[string]string{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", f.Name, err)
		}
		names = append(names, f.Name)
		content[f.Name] = string(b)
		wantMode := "-rw-r--r--"
		if f.Name == "gonicorn-0.1.0.data/scripts/gonicorn" {
			wantMode = "-rwxr-xr-x"
		}
		if got := f.Mode().String(); got != wantMode {
			t.Errorf("%s: mode %s; want %s", f.Name, got, wantMode)
		}
	}
	wantNames := []string{
		"gonicorn/__init__.py", "gonicorn/__main__.py", "gonicorn-0.1.0.data/scripts/gonicorn",
		"gonicorn-0.1.0.dist-info/METADATA", "gonicorn-0.1.0.dist-info/WHEEL", "gonicorn-0.1.0.dist-info/RECORD",
	}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Fatalf("members = %q; want %q", names, wantNames)
	}
	if content["gonicorn-0.1.0.data/scripts/gonicorn"] != string(bin) {
		t.Errorf("the script is not the binary given")
	}
	if !strings.Contains(content["gonicorn/__main__.py"], "os.execv(") {
		t.Errorf("__main__.py = %q; want it to exec the binary", content["gonicorn/__main__.py"])
	}

	wantWheel := "Wheel-Version: 1.0\nGenerator: gonicorn tools/wheel\nRoot-Is-Purelib: false\n" +
		"Tag: py3-none-manylinux2014_x86_64\nTag: py3-none-manylinux_2_17_x86_64\nTag: py3-none-musllinux_1_1_x86_64\n"
	if got := content["gonicorn-0.1.0.dist-info/WHEEL"]; got != wantWheel {
		t.Errorf("WHEEL = %q; want %q", got, wantWheel)
	}

	meta := content["gonicorn-0.1.0.dist-info/METADATA"]
	head, body, ok := strings.Cut(meta, "\n\n")
	if !ok || body != "# gonicorn\n\nread me\n" {
		t.Errorf("METADATA body = %q; want the readme after the first blank line", body)
	}
	for _, line := range []string{"Metadata-Version: 2.1", "Name: gonicorn", "Version: 0.1.0", "Requires-Python: >=3.9", "Description-Content-Type: text/markdown"} {
		if !strings.Contains("\n"+head+"\n", "\n"+line+"\n") {
			t.Errorf("METADATA headers lack %q:\n%s", line, head)
		}
	}

	// RECORD: one row per member, each with its sha256 (urlsafe base64, no padding) and size;
	// RECORD's own row last and empty.
	rows, err := csv.NewReader(strings.NewReader(content["gonicorn-0.1.0.dist-info/RECORD"])).ReadAll()
	if err != nil {
		t.Fatalf("RECORD is not CSV: %v", err)
	}
	if len(rows) != len(wantNames) {
		t.Fatalf("RECORD has %d rows; want %d", len(rows), len(wantNames))
	}
	for i, row := range rows {
		name := wantNames[i]
		want := []string{name, "", ""}
		if name != "gonicorn-0.1.0.dist-info/RECORD" {
			sum := sha256.Sum256([]byte(content[name]))
			want = []string{name, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), fmt.Sprint(len(content[name]))}
		}
		if fmt.Sprint(row) != fmt.Sprint(want) {
			t.Errorf("RECORD row %d = %q; want %q", i, row, want)
		}
	}

	// The same spec gives the same bytes.
	var again bytes.Buffer
	if err := Write(&again, Spec{Version: "0.1.0", Arch: "amd64", Binary: bin, Readme: "# gonicorn\n\nread me\n"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("two wheels of the same spec differ")
	}
}

// The tags promise a static binary for the wheel's CPU; anything else is refused.
func TestWriteChecksBinary(t *testing.T) {
	for _, tc := range []struct {
		name, arch string
		bin        []byte
		want       string
	}{
		{"dynamic", "amd64", fakeELF(elf.EM_X86_64, true, ""), "dynamically linked; build it with CGO_ENABLED=0"},
		{"wrong CPU", "amd64", fakeELF(elf.EM_AARCH64, false, ""), "the gonicorn binary is for EM_AARCH64, not EM_X86_64 (GOARCH amd64)"},
		{"not ELF", "arm64", []byte("#!/bin/sh\nexit 0\n"), "not an ELF executable"},
	} {
		err := Write(io.Discard, Spec{Version: "0.1.0", Arch: tc.arch, Binary: tc.bin})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Write = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
	if err := Write(io.Discard, Spec{Version: "0.1.0", Arch: "arm64", Binary: fakeELF(elf.EM_AARCH64, false, "")}); err != nil {
		t.Errorf("static arm64 binary: Write = %v; want nil", err)
	}
}
