package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The flag values below parse eagerly when a flag is given (pflag then reports the flag and
// the value) and lazily for their default, in finish, because a default may come from the
// environment (WEB_CONCURRENCY) and must be reported as such.

type intValue struct {
	p   *int
	s   string
	set bool
}

func (v *intValue) String() string { return v.s }
func (v *intValue) Type() string   { return "int" }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	v.s, *v.p, v.set = s, n, true
	return nil
}
func (v *intValue) finish() error {
	if v.set {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.s))
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*v.p = n
	return nil
}

type int64Value struct {
	p   *int64
	s   string
	set bool
}

func (v *int64Value) String() string { return v.s }
func (v *int64Value) Type() string   { return "int" }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	v.s, *v.p, v.set = s, n, true
	return nil
}
func (v *int64Value) finish() error {
	if v.set {
		return nil
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*v.p = n
	return nil
}

// secondsValue is a duration given in (possibly fractional) seconds, as gunicorn takes them.
type secondsValue struct {
	p   *time.Duration
	s   string
	set bool
}

func (v *secondsValue) String() string { return v.s }
func (v *secondsValue) Type() string   { return "seconds" }
func (v *secondsValue) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	v.s, *v.p, v.set = s, d, true
	return nil
}
func (v *secondsValue) finish() error {
	if v.set {
		return nil
	}
	d, err := parseSeconds(v.s)
	*v.p = d
	return err
}

func parseSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, fmt.Errorf("want a number of seconds >= 0")
	}
	return time.Duration(f * float64(time.Second)), nil
}

// commaList appends comma-separated items, skipping empty ones.
type commaList struct{ p *[]string }

func (v *commaList) String() string { return strings.Join(*v.p, ",") }
func (v *commaList) Type() string   { return "list" }
func (v *commaList) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}
