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

// intValue is an integer flag (int or int64).
type intValue[T int | int64] struct {
	p   *T
	s   string
	set bool
}

func (v *intValue[T]) String() string { return v.s }
func (v *intValue[T]) Type() string   { return "int" }
func (v *intValue[T]) Set(s string) error {
	n, err := parseInt[T](s)
	if err != nil {
		return err
	}
	v.s, *v.p, v.set = s, n, true
	return nil
}
func (v *intValue[T]) finish() error {
	if v.set {
		return nil
	}
	n, err := parseInt[T](v.s)
	*v.p = n
	return err
}

func parseInt[T int | int64](s string) (T, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || int64(T(n)) != n {
		return 0, fmt.Errorf("not an integer")
	}
	return T(n), nil
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

// listValue is a repeatable flag (--bind, --env, --pythonpath). Within one layer of the
// configuration (config file, GONICORN_CMD_ARGS, command line) its values add up; the first
// value a later layer gives replaces the list, as a later layer replaces a setting in
// gunicorn. Parse calls newLayer between the layers.
type listValue struct {
	p     *[]string
	comma bool // each value is a comma-separated list; empty items are skipped
	set   bool // a value was given in the current layer
}

func (v *listValue) String() string { return strings.Join(*v.p, ",") }
func (v *listValue) Type() string   { return "list" }
func (v *listValue) Set(s string) error {
	if !v.set {
		v.clear()
	}
	if !v.comma {
		*v.p = append(*v.p, s)
		return nil
	}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}

// clear empties the list as the current layer's value.
func (v *listValue) clear() { *v.p, v.set = nil, true }

// newLayer makes the next value replace the list instead of adding to it.
func (v *listValue) newLayer() { v.set = false }
