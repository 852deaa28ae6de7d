// Package corpus reads the gunicorn HTTP/1.1 request corpus (testdata/conformance, see its
// README.md) for the tests of the parser, the PROXY-protocol parser and the end-to-end
// conformance test, which each interpret the cases in their own way.
package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Load decodes every case file root/{valid,invalid}/PATTERN.json into a T, in file order,
// and returns it with its name ("valid/001", "invalid/pp_01"). It fails if a folder has no
// matching case, so a moved corpus cannot make a test pass by testing nothing.
func Load[T any](root, pattern string) (names []string, cases []T, err error) {
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join(root, dir, pattern+".json"))
		if err != nil || len(files) == 0 {
			return nil, nil, fmt.Errorf("corpus: no %s cases in %s (%v)", pattern, filepath.Join(root, dir), err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("corpus: %w", err)
			}
			var c T
			if err := json.Unmarshal(data, &c); err != nil {
				return nil, nil, fmt.Errorf("corpus: %s: %w", f, err)
			}
			names = append(names, dir+"/"+strings.TrimSuffix(filepath.Base(f), ".json"))
			cases = append(cases, c)
		}
	}
	return names, cases, nil
}
